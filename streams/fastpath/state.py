"""Coalesced table writes: the changelog gets one record per dirty key per checkpoint, not one per event; the
local store gets the same once the checkpoint allows (see Checkpoint)."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from faust.streams import _current_event  # the context Faust's table and stores read the partition from
from faust.types import TP


@dataclass(frozen=True)
class _Origin:
    topic: str
    partition: int


class PartitionMarker:
    """Stands in for the current event so table writes (changelog and store) land in one partition."""

    __slots__ = ("__weakref__", "message")

    def __init__(self, topic: str, partition: int) -> None:
        self.message = _Origin(topic, partition)


@contextlib.contextmanager
def in_partition(source_topic: str, partition: int) -> Iterator[None]:
    """Make table reads and writes in this block use `partition` (a store opens one database per partition)."""
    marker = PartitionMarker(source_topic, partition)
    token = _current_event.set(weakref.ref(marker))  # type: ignore[arg-type]
    try:
        yield
    finally:
        _current_event.reset(token)


def sink(app: Any) -> Any:
    """Where the batch path sends: the worker's transaction (exactly-once), else Faust's producer. Both have
    `send(topic, key, value, partition, timestamp, headers)` and `send_records(topic, partition, records, on_done)`."""
    routes = getattr(app.transport, "batch_routes", None)
    transaction = None if routes is None else routes.transaction
    return transaction if transaction is not None else app.producer


class ChangelogOffsets:
    """The last changelog offset each partition's sends reached in this checkpoint, recorded in the local store
    once the store has the state (`apply`): a restart on the kept store then reads only the changelog after it."""

    def __init__(self) -> None:
        self.acked: dict[tuple[int, TP], tuple[Any, int]] = {}

    def on_acked(self, table: Any, tp: TP) -> Callable[[int], None]:
        def acked(offset: int) -> None:
            self.acked[(id(table), tp)] = (table, offset)

        return acked

    def apply(self, marker: int) -> None:
        """Record each offset, plus `marker` (1: a transaction's commit marker follows the last record)."""
        for (_, tp), (table, offset) in self.acked.items():
            table.data.set_persisted_offset(tp, offset + marker)
        self.acked.clear()


async def send_changelog(
    table: Any, partition: int, writes: Sequence[tuple[bytes, bytes | None]], offsets: ChangelogOffsets
) -> list[asyncio.Future]:
    """Send writes of a raw table (bytes keys and values) to its changelog (None: a tombstone), as whole record
    batches; returns their futures (the commit that follows waits for them). The caller applies the same writes to
    the local store after (see Checkpoint); `offsets` learns the last offset once it is acknowledged.

    The same bytes, topic and partition Faust would send, so its recovery reads them back unchanged.
    """
    if not writes:
        return []
    if not (table.key_serializer == "raw" and table.value_serializer == "raw"):
        raise TypeError(f"table {table.name}: the batch path writes raw tables only (key_type=bytes, value_type=bytes)")
    changelog = table.changelog_topic.get_topic_name()
    on_done = offsets.on_acked(table, TP(changelog, partition))
    return cast(list[asyncio.Future], await sink(table.app).send_records(changelog, partition, writes, on_done))


class TableWrites:
    """A raw table's writes of one checkpoint: sent to its changelog by `send`, set in its local store by `apply`
    (the stage's part of Checkpoint's steps 2 and 4), each as if from that partition of `source_topic`."""

    def __init__(self, table: Any, source_topic: str) -> None:
        self.table, self.source_topic = table, source_topic
        self.unapplied: list[tuple[int, list[tuple[bytes, bytes]]]] = []
        self.offsets = ChangelogOffsets()

    async def send(self, partition: int, items: list[tuple[bytes, bytes]]) -> list[asyncio.Future]:
        self.unapplied.append((partition, items))
        return await send_changelog(self.table, partition, items, self.offsets)

    def apply(self, marker: int) -> None:
        """Set what `send` sent in the local store, then the changelog offsets reached (see ChangelogOffsets)."""
        store = self.table.data
        for partition, items in self.unapplied:
            with in_partition(self.source_topic, partition):
                for key, value in items:
                    store[key] = value
        self.unapplied.clear()
        self.offsets.apply(marker)
