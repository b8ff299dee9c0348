"""Per-worker engine runtime: one PartitionProcessor per assigned partition over the state table."""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from schemas.errors import SchemaError
from schemas.records import BehaviorEvent, CatalogItem, DeadLetter, UserProfile
from streams.engine.clock import StreamClock
from streams.engine.engine import Engine
from streams.engine.firing import Firing
from streams.engine.partition import PartitionProcessor
from streams.engine.state import UserState

# Table keys of per-partition stream time sit beside user ids; "\x00" keeps them apart.
CLOCK_KEY = b"\x00clock"


def pack(partition: int, state: UserState) -> bytes:
    """Table value: the partition (for index rebuilds) and the state."""
    return b"%d|" % partition + state.to_bytes()


def unpack(value: bytes) -> tuple[int, UserState]:
    """Inverse of `pack`."""
    head, _, body = value.partition(b"|")
    return int(head), UserState.from_bytes(body)


class Runtime:
    """Routes decoded records of a batch to partition processors; the table is the one source of truth."""

    def __init__(
        self,
        engine: Engine,
        table: MutableMapping[bytes, bytes],
        decode: Callable[[bytes], Any],
        *,
        replay: bool,
        allowed_lateness_ms: int,
    ) -> None:
        self.engine = engine
        self.table = table
        self.decode = decode
        self.replay = replay
        self.lateness = allowed_lateness_ms
        self.processors: dict[int, PartitionProcessor] = {}

    def forget(self) -> None:
        """Drop in-memory indexes (on rebalance); they are rebuilt from the table on next use."""
        self.processors.clear()

    def processor(self, partition: int) -> PartitionProcessor:
        """The partition's processor, rebuilt from the table the first time it is needed."""
        proc = self.processors.get(partition)
        if proc is None:
            clock = StreamClock(self.lateness, replay=self.replay)
            proc = PartitionProcessor(self.engine, self._load, clock)
            proc.rebuild(s for p, s in self._states() if p == partition)
            saved = self.table.get(CLOCK_KEY + b"%d" % partition)
            if saved is not None:
                clock.observe(int(saved) + self.lateness)
            self.processors[partition] = proc
        return proc

    def handle(self, topic_kind: str, partition: int, value: bytes, wall_ms: int) -> list[Firing]:
        """Process one message; raises SchemaError for undecodable input (the caller dead-letters it)."""
        proc = self.processor(partition)
        if topic_kind == "tick":
            return proc.on_wall_clock(wall_ms)
        record = self.decode(value)
        if isinstance(record, BehaviorEvent):
            return proc.on_event(record)
        if isinstance(record, UserProfile):
            return proc.on_profile(record)
        if isinstance(record, CatalogItem):
            return proc.on_catalog(record)
        raise SchemaError(f"unexpected record type {type(record).__name__} on the engine input")

    def dirty(self) -> Iterable[tuple[int, bytes, bytes]]:
        """(partition, key, value) writes for states changed since the last call, plus stream times."""
        for partition, proc in self.processors.items():
            for user_id, state in proc.take_dirty().items():
                yield partition, user_id.encode(), pack(partition, state)
            yield partition, CLOCK_KEY + b"%d" % partition, b"%d" % proc.clock.now_ms

    def _load(self, user_id: str) -> UserState | None:
        value = self.table.get(user_id.encode())
        return None if value is None else unpack(value)[1]

    def _states(self) -> Iterable[tuple[int, UserState]]:
        for key, value in list(self.table.items()):
            if value is not None and not key.startswith(b"\x00"):
                yield unpack(value)


def dead_letter(
    topic: str, partition: int, offset: int, key: bytes | None, value: bytes, exc: Exception, at_ms: int
) -> DeadLetter:
    """The DLQ record for a message the engine could not read."""
    return DeadLetter(
        source_topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        error=str(exc)[:1000],
        error_kind=type(exc).__name__,
        at_ms=at_ms,
    )
