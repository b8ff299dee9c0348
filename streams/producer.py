"""Faust's aiokafka producer, with every topic it writes kept in its metadata (no batch left without a leader)."""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers.aiokafka import Producer as AIOKafkaProducer


class TopicTrackingProducer(AIOKafkaProducer):
    """Registers each topic with aiokafka's metadata before the first message to it.

    aiokafka fetches metadata for every topic while it tracks none (Faust's topic creation makes
    such a fetch), and then sends to a topic found there without tracking it. Once any other topic
    is added, refreshes cover the tracked topics only and the untracked one drops out: a batch
    still queued for it finds no leader and waits out the request timeout (20 minutes in Faust),
    blocking every flush, offset commit and shutdown meanwhile.
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
        if topic not in self._tracked_topics:
            await self._ensure_producer().client.add_topic(topic)
            self._tracked_topics.add(topic)
        return await super().send(topic, key, value, partition, timestamp, headers, transactional_id=transactional_id)


def track_topics(app: faust.App) -> None:
    """Make `app` produce with TopicTrackingProducer (before its producer is first used)."""
    app.transport.Producer = TopicTrackingProducer  # type: ignore[misc]  # instance override of the ClassVar
