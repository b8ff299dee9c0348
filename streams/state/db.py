"""One partition's key-value database as the runtime reads it: point reads and ordered ranges.

Writes happen only at a checkpoint (`write`), so what a range returns between two checkpoints is what the
changelog holds; changes since the last one live in the caller's overlays.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from sortedcontainers import SortedDict

Write = tuple[bytes, bytes | None]  # (key, value); None deletes


class PartitionDB(Protocol):
    """What the runtime needs of a partition's store."""

    def get(self, key: bytes) -> bytes | None: ...

    def range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]: ...

    def write(self, writes: Iterable[Write]) -> None: ...


class MemoryDB:
    """A sorted in-memory partition (tests, the demo): the same ranges as RocksDB, bytewise."""

    def __init__(self) -> None:
        self.data: SortedDict = SortedDict()

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        data = self.data
        for key in data.irange(start, end, inclusive=(True, False)):
            yield key, data[key]

    def write(self, writes: Iterable[Write]) -> None:
        data = self.data
        for key, value in writes:
            if value is None:
                data.pop(key, None)
            else:
                data[key] = value

    def __len__(self) -> int:
        return len(self.data)


class RocksPartition:
    """A partition's RocksDB database (rocksdict, raw mode, as Faust opens it)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self.db.get(key)
        return value

    def range(self, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        it = self.db.iter()
        it.seek(start)
        while it.valid():
            key = it.key()
            if key >= end:
                return
            yield key, it.value()
            it.next()

    def write(self, writes: Iterable[Write]) -> None:
        from rocksdict import WriteBatch  # the production extra; tests run on MemoryDB

        batch = WriteBatch(raw_mode=True)
        for key, value in writes:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        self.db.write(batch)
