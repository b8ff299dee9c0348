"""Coalesced table writes: the changelog gets one record per dirty key per flush, not one per event."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Iterable, Iterator
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


async def write_partition(
    table: Any, source_topic: str, partition: int, items: Iterable[tuple[Any, Any]]
) -> list[asyncio.Future]:
    """Set every (key, value) in `table` as if from `partition` of `source_topic`; the changelog sends' futures.

    Raw-serialised tables skip Faust's per-key changelog machinery (a FutureMessage and a buffered send
    each): the store is set and the record handed to the producer directly, with the same bytes, topic
    and partition Faust would use, so recovery reads it back unchanged. The checkpoint waits for the
    returned futures before the offset commit (a table that is not raw goes through Faust, whose producer
    flush before the commit confirms it). Once the last record is acknowledged its
    offset is recorded in the store as Faust does for its own writes, so a restart on the kept store reads
    only the changelog after it.
    """
    marker = PartitionMarker(source_topic, partition)
    token = _current_event.set(weakref.ref(marker))  # type: ignore[arg-type]
    sent: list[asyncio.Future] = []
    try:
        if table.key_serializer == "raw" and table.value_serializer == "raw":
            store = table.data
            send = table.app.producer.send
            changelog = table.changelog_topic.get_topic_name()
            for key, value in items:
                store[key] = value
                sent.append(await send(changelog, key, value, partition, None, None))
            if sent:  # a partition's records are acknowledged in order: the last has the highest offset
                sent[-1].add_done_callback(lambda fut: _record_persisted(table, fut))
        else:
            for key, value in items:
                table[key] = value
    finally:
        _current_event.reset(token)
    return sent


def _record_persisted(table: Any, fut: asyncio.Future) -> None:
    """Keep the acknowledged changelog offset in the store, through Faust's own callback for its writes."""
    if not fut.cancelled() and fut.exception() is None:  # a failed send fails the commit that waits for it
        table._on_changelog_sent(fut)


async def send_changelog(table: Any, partition: int, writes: list[tuple[bytes, bytes | None]]) -> list[asyncio.Future]:
    """Send writes already applied to a partition's store to the table's changelog (None: a tombstone), as
    whole record batches; returns their futures (the commit that follows waits for them).

    The same bytes, topic and partition Faust would send, so its recovery reads them back unchanged. Once the
    last batch is acknowledged its last offset is recorded in the store as Faust does for its own writes, so a
    restart on the kept store reads only the changelog after it.
    """
    if not writes:
        return []
    changelog = table.changelog_topic.get_topic_name()
    tp = TP(changelog, partition)

    def persisted(offset: int) -> None:
        table.data.set_persisted_offset(tp, offset)

    return cast(list[asyncio.Future], await table.app.producer.send_records(changelog, partition, writes, persisted))
