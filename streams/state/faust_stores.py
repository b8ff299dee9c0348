"""Faust's side of the partition stores: an ordered in-memory table store, and each partition's database.

Faust keeps owning tables, changelogs and recovery; the runtime reads a partition's database directly (point
reads, ordered ranges) and writes it once per checkpoint, sending the same records to the changelog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from faust.stores import STORES
from faust.stores.base import SerializedStore
from faust.streams import current_event
from faust.types import TP, EventT

from streams.state.db import MemoryDB, PartitionDB, RocksPartition

ORDERED_MEMORY = "ordered-memory"  # the table store URL scheme, for memory:// apps (tests, the demo)
MB = 1024 * 1024
# RocksDB's own memory per partition database: Faust's defaults (a 2 GiB block cache and three 64 MiB write
# buffers for each of every table's partitions) let one worker's RSS grow by gigabytes; the record cache above
# the store is what keeps hot users decoded, so the databases need only modest buffers of their own.
ROCKSDB_OPTIONS = {"write_buffer_size": 16 * MB, "max_write_buffer_number": 2, "block_cache_size": 32 * MB}
SMALL_ROCKSDB_OPTIONS = {"write_buffer_size": 4 * MB, "max_write_buffer_number": 2, "block_cache_size": 8 * MB}


class OrderedMemoryStore(SerializedStore):
    """Faust's memory store, but one sorted map per partition: the same ordered ranges as RocksDB."""

    def __post_init__(self) -> None:
        self.partitions: dict[int, MemoryDB] = {}

    def partition(self, partition: int) -> MemoryDB:
        db = self.partitions.get(partition)
        if db is None:
            db = self.partitions[partition] = MemoryDB()
        return db

    def apply_changelog_batch(self, batch: Iterable[EventT], to_key: Callable[[Any], Any],
                              to_value: Callable[[Any], Any]) -> None:  # fmt: skip
        by_partition: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for event in batch:
            message = event.message
            by_partition.setdefault(message.partition, []).append((message.key, message.value))
        for partition, writes in by_partition.items():
            self.partition(partition).write(writes)

    def _here(self) -> int | None:
        event = current_event()
        return None if event is None else event.message.partition

    def _get(self, key: bytes) -> bytes | None:
        here = self._here()
        if here is not None:
            return self.partition(here).get(key)
        for db in self.partitions.values():
            value = db.get(key)
            if value is not None:
                return value
        return None

    def _set(self, key: bytes, value: bytes | None) -> None:
        here = self._here()
        if here is None:
            raise RuntimeError("a table write outside of an event: its partition is unknown")
        self.partition(here).write([(key, value)])

    def _del(self, key: bytes) -> None:
        for db in self.partitions.values():
            db.data.pop(key, None)

    def _iterkeys(self) -> Iterator[bytes]:
        for db in self.partitions.values():
            yield from db.data.keys()

    def _itervalues(self) -> Iterator[bytes | None]:
        for db in self.partitions.values():
            yield from db.data.values()

    def _iteritems(self) -> Iterator[tuple[bytes, bytes]]:
        for db in self.partitions.values():
            yield from db.data.items()

    def _size(self) -> int:
        return sum(len(db) for db in self.partitions.values())

    def _contains(self, key: bytes) -> bool:
        return any(key in db.data for db in self.partitions.values())

    def _clear(self) -> None:
        self.partitions.clear()

    def reset_state(self) -> None: ...

    def persisted_offset(self, tp: TP) -> int | None:
        """None: a memory store keeps nothing across restarts, recovery reads the whole changelog."""
        return None

    def set_persisted_offset(self, tp: TP, offset: int) -> None: ...

    async def backup_partition(self, tp: TP | int, flush: bool = True, purge: bool = False, keep: int = 1) -> None:
        """Nothing to back up: the changelog is the copy of a memory store."""

    def restore_backup(self, tp: TP | int, latest: bool = True, backup_id: int = 0) -> None:
        """Nothing to restore: recovery reads the changelog."""

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        keep = {tp.partition for tp in active_tps}  # like Faust's memory store: no standby copies in memory
        for partition in [p for p in self.partitions if p not in keep]:
            del self.partitions[partition]


STORES.aliases.setdefault(ORDERED_MEMORY, f"{__name__}:OrderedMemoryStore")


def table_options(app_store: str, *, small: bool = False) -> dict[str, int]:
    """Store options of a table: RocksDB's memory bounds (none for memory stores)."""
    if str(app_store).startswith("memory:"):
        return {}
    return dict(SMALL_ROCKSDB_OPTIONS if small else ROCKSDB_OPTIONS)


def store_url(app_store: str) -> str | None:
    """The table store for an app's store setting: RocksDB as is, memory as the ordered memory store."""
    # a host in the URL: a bare "scheme:" URL is falsy, and Faust would fall back to the app's store
    return f"{ORDERED_MEMORY}://local" if str(app_store).startswith("memory:") else None


def partition_db(table: Any, partition: int) -> PartitionDB:
    """The database holding one partition of `table` (RocksDB or ordered memory)."""
    store = table.data
    if isinstance(store, OrderedMemoryStore):
        return store.partition(partition)
    if hasattr(store, "_db_for_partition"):
        return RocksPartition(store._db_for_partition(partition))
    raise TypeError(f"table {table.name}: store {type(store).__name__} has no ordered partitions (use rocksdb://)")
