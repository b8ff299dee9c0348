"""Exactly-once outputs: one Kafka transaction per checkpoint holds a worker's outputs, changelog writes and offsets.

With `processing_guarantee = exactly_once` every record the batch path sends (jobs, decisions, dead letters,
re-keyed feedback, counts, metrics, changelog records) goes through one transactional producer, and the offset
commit is part of the same transaction: `read_committed` readers of the output topics, and the worker's own
recovery, see a checkpoint's records together with the offsets that produced them, or none of them. A worker
killed mid-transaction leaves it open; the next producer with the same transactional id (the restarted pod)
aborts it when it starts, and the next owner of the partitions redoes those batches from the committed state.

Faust's own `processing_guarantee="exactly_once"` is not used: it keeps one producer per input partition, reads
recovery highwaters from a last stable offset that is unknown before the first fetch, and waits out 10 s idle
checks for changelogs ending in a marker (faust-streaming issues 177, 323, 440, 517). Here one producer per
worker owns the transaction and the batch consumer counts markers as read (`BatchConsumer._past_markers`).

The transactional id must be stable across restarts of one worker and distinct between workers (see
`transactional_id`). Records sent in a transaction become visible to `read_committed` readers at its commit:
a job waits for the next commit (`commit_interval_ms`) before delivery can read it.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import TopicPartition

from schemas.kafka_batches import send_reporting_last_offset
from streams.producer import track_topic

# A transaction's records sit behind the last stable offset until it ends: a worker killed mid-transaction stalls
# read_committed readers of its partitions until the restarted worker aborts it, or the broker does after this.
TRANSACTION_TIMEOUT_MS = 30_000


def transactional_id(app_id: str, web_port: int, configured: str | None = None) -> str:
    """The worker's transactional id: the configured one, else one per host and web port (a pod's name is its
    host name; two workers on one host cannot share a web port)."""
    return configured or f"{app_id}-{socket.gethostname()}-{web_port}"


class Transaction:
    """The worker's transactional producer: always inside a transaction, which `commit` ends and renews."""

    # Offsets a committed transaction adds after the last record it wrote to a partition: its commit marker.
    marker = 1

    def __init__(self, new_producer: Callable[[str], AIOKafkaProducer], transactional_id: str) -> None:
        """`new_producer(transactional_id)`: an aiokafka producer with the app's broker, security and batching."""
        self.transactional_id = transactional_id
        self._new_producer = new_producer
        self._producer: AIOKafkaProducer | None = None
        self._topics: set[str] = set()
        self._open = False  # a transaction is begun and not yet ended

    async def start(self) -> None:
        """Fence any earlier producer with this id (aborting its open transaction), then begin a transaction."""
        if self._producer is not None:
            return
        producer = self._new_producer(self.transactional_id)
        await producer.start()  # InitProducerId: the broker aborts what an earlier incarnation left open
        await producer.begin_transaction()
        self._producer, self._open = producer, True

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("the transactional producer is not started (it starts with the worker's consumer)")
        return self._producer

    async def _track(self, topic: str) -> None:
        # As TopicTrackingProducer: aiokafka refreshes metadata only for tracked topics once it tracks any.
        await track_topic(self._started().client, self._topics, topic)

    async def send(self, topic: str, key: bytes | None, value: bytes | None, partition: int | None,
                   timestamp: float | None, headers: Any) -> asyncio.Future:  # fmt: skip
        """Queue one record in the open transaction (the signature of Faust's producer `send`)."""
        await self._track(topic)
        stamp = None if timestamp is None else int(timestamp * 1000)
        return await self._started().send(
            topic, value, key=key, partition=partition, timestamp_ms=stamp, headers=list(headers) if headers else None
        )

    async def send_records(self, topic: str, partition: int, records: Iterable[tuple[bytes, bytes | None]],
                           on_done: Callable[[int], None] | None = None) -> list[asyncio.Future]:  # fmt: skip
        """Queue records to one partition as whole batches, as TopicTrackingProducer.send_records does."""
        await self._track(topic)
        return await send_reporting_last_offset(self._started(), topic, partition, records, on_done)

    async def commit(self, offsets: Mapping[Any, int], group_id: str) -> None:
        """Add the input offsets to the transaction, commit it and begin the next. Every record sent in it must
        be acknowledged already (the checkpoint waits for them). Raises when the broker refuses: a producer
        fenced by a newer one with the same id must stop, and its transaction is aborted."""
        producer = self._started()
        if offsets:
            tps = {TopicPartition(tp.topic, tp.partition): offset for tp, offset in offsets.items()}
            await producer.send_offsets_to_transaction(tps, group_id)
        self._open = False  # a failed commit leaves the transaction to the broker: aborted once this producer stops
        await producer.commit_transaction()
        await producer.begin_transaction()
        self._open = True

    async def stop(self) -> None:
        """Abort what the last commit did not cover (a stop commits first), and close the producer."""
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            if self._open:
                self._open = False
                await producer.abort_transaction()
        finally:
            await producer.stop()
