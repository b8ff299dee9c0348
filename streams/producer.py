"""Faust's aiokafka producer, with every topic it writes kept in its metadata (no batch left without a leader)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducer

from schemas.kafka_batches import send_reporting_last_offset

VISIBLE_TIMEOUT_S = 30.0  # how long a created topic may take to show in the broker's metadata


async def track_topic(client: Any, tracked: set[str], topic: str) -> None:
    """Add `topic` to what the aiokafka `client` keeps metadata for, once (see TopicTrackingProducer)."""
    if topic not in tracked:
        await client.add_topic(topic)
        tracked.add(topic)


class TopicTrackingProducer(AIOKafkaProducer):
    """Registers each topic with aiokafka's metadata before the first message to it.

    aiokafka fetches metadata for every topic while it tracks none (Faust's topic creation makes
    such a fetch), and then sends to a topic found there without tracking it. Once any other topic
    is added, refreshes cover the tracked topics only and the untracked one drops out: a batch
    still queued for it finds no leader and waits out the request timeout (20 minutes in Faust),
    blocking every flush, offset commit and shutdown meanwhile.

    A topic it creates (changelogs, internal topics) is tracked too, and only returned once the broker
    lists it: the broker learns of a new topic a moment after the create request returns, and a consumer
    that subscribes in between skips the topic until its next metadata refresh, minutes later.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self._tracked_topics: set[str] = set()

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
        *,
        transactional_id: str | None = None,
    ) -> Any:
        await track_topic(self._ensure_producer().client, self._tracked_topics, topic)
        return await super().send(topic, key, value, partition, timestamp, headers, transactional_id=transactional_id)

    async def send_records(self, topic: str, partition: int, records: Iterable[tuple[bytes, bytes | None]],
                           on_done: Callable[[int], None] | None = None) -> list[asyncio.Future]:  # fmt: skip
        """Queue (key, value) records to one partition as whole record batches (aiokafka's BatchBuilder): a
        future per batch, not per record, so a checkpoint's thousands of changelog records cost little.
        `on_done(offset)` gets the offset of the last record once every batch is acknowledged."""
        await track_topic(self._ensure_producer().client, self._tracked_topics, topic)
        return await send_reporting_last_offset(self._ensure_producer(), topic, partition, records, on_done)

    async def create_topic(self, topic: str, partitions: int, replication: int, **kwargs: Any) -> None:
        await super().create_topic(topic, partitions, replication, **kwargs)
        if self.app.conf.topic_allow_declare:
            await self._until_listed(topic)

    async def _until_listed(self, topic: str) -> None:
        client = self._ensure_producer().client
        await client.add_topic(topic)
        deadline = asyncio.get_running_loop().time() + VISIBLE_TIMEOUT_S
        while not client.cluster.partitions_for_topic(topic):
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"topic {topic!r} was created but the broker still does not list it")
            await asyncio.sleep(0.1)
            await client.force_metadata_update()
        self._tracked_topics.add(topic)


def track_topics(app: faust.App) -> None:
    """Make `app` produce with TopicTrackingProducer (before its producer is first used)."""
    app.transport.Producer = TopicTrackingProducer  # type: ignore[misc]  # instance override of the ClassVar
