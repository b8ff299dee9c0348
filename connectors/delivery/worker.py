"""The delivery worker: jobs, retry and token consumers on aiokafka, outcomes durable before commits."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter

from connectors.delivery.pipeline import Deliverer, Outputs, Prepared, WorkItem
from connectors.stores.tokens import TokenStore
from schemas.codec import decode, encode
from schemas.dead_letters import dead_letter
from schemas.errors import SchemaError
from schemas.kafka_batches import send_keyed
from schemas.records import DeadLetter, DeviceToken, JobRetry, NotificationJob
from schemas.rules import validate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Batch:
    """Jobs read from Kafka and prepared, with their dead letters and the offsets to commit once settled."""

    prepared: Prepared
    dead: list[tuple[bytes | None, DeadLetter]]
    offsets: dict[TopicPartition, int]


@dataclass(frozen=True)
class Topics:
    jobs: str
    retry: str
    dlq: str
    delivery: str
    tokens: str


class DeliveryWorker:
    """Run the three consumers until `stop()`; each commits only after its batch's outputs are flushed."""

    def __init__(
        self,
        bootstrap: str,
        group_id: str,
        topics: Topics,
        deliverer: Deliverer,
        tokens: TokenStore,
        *,
        batch_size: int = 500,
        max_in_flight: int = 4,
        kafka_options: dict | None = None,
        dead_letters: Counter | None = None,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.topics = topics
        self.deliverer = deliverer
        self.tokens = tokens
        self.batch_size = batch_size
        self.max_in_flight = max_in_flight
        self.kafka_options = kafka_options or {}
        self.dead_letters = dead_letters  # nudge_dead_letters_total{topic,reason}, as on the stream side
        self.clock = clock
        self.ready = False
        self._stopping = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None

    def stop(self) -> None:
        self._stopping.set()

    def _consumer(self, topic: str, group: str) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=self.bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.batch_size,
            **self.kafka_options,
        )

    async def run(self) -> None:
        """Start everything, run until stopped, then finish in-flight batches, commit and close."""
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, linger_ms=5, **self.kafka_options
        )
        await self._producer.start()
        # Track the output topics from the start. aiokafka drops a topic it knows only from a fetch of all
        # topics once another topic is tracked, and a batch queued for it then waits out the request timeout.
        await self._producer.client.set_topics([self.topics.delivery, self.topics.retry, self.topics.dlq])
        consumers = [
            self._consumer(self.topics.jobs, self.group_id),
            self._consumer(self.topics.retry, f"{self.group_id}-retry"),
            self._consumer(self.topics.tokens, f"{self.group_id}-tokens"),
        ]
        try:
            for consumer in consumers:
                await consumer.start()
            self.ready = True
            loops = [self._jobs_loop(consumers[0]), self._retry_loop(consumers[1]), self._tokens_loop(consumers[2])]
            await asyncio.gather(*loops)
        finally:
            self.ready = False
            for consumer in consumers:
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await self._producer.stop()

    async def _publish(self, out: Outputs, dead_letters: list[tuple[bytes | None, DeadLetter]]) -> None:
        assert self._producer is not None
        producer = self._producer
        futures = []
        for topic, records in (
            (self.topics.delivery, [(r.user_id.encode(), encode(r)) for r in out.results]),
            (self.topics.retry, [(r.job.user_id.encode(), encode(r)) for r in out.retries]),
            (self.topics.dlq, [(d.job.user_id.encode(), encode(d)) for d in out.dead]),
        ):
            if records:
                futures += await send_keyed(producer, topic, records)  # a future per batch, not per record
        for key, letter in dead_letters:
            futures.append(await producer.send(self.topics.dlq, encode(letter), key=key))  # key may be None
        if futures:
            await asyncio.gather(*futures)  # raises if any record was not acknowledged: no commit then

    def _dead_letter(self, record: ConsumerRecord, exc: Exception) -> tuple[bytes | None, DeadLetter]:
        log.warning("undecodable record %s[%s]@%s: %s", record.topic, record.partition, record.offset, exc)
        letter = dead_letter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            at_ms=self.clock(),
            error=exc,
        )
        if self.dead_letters is not None:
            self.dead_letters.labels(record.topic, letter.error_kind).inc()
        return record.key, letter

    async def _next_batch(self, consumer: AIOKafkaConsumer) -> _Batch | None:
        """Fetch, decode and prepare (expiry, devices) the next batch of jobs; None when nothing came."""
        batches = await consumer.getmany(timeout_ms=200, max_records=self.batch_size)
        if not batches:
            return None
        items, dead, offsets = [], [], {}
        for tp, records in batches.items():
            for record in records:
                try:
                    items.append(WorkItem(decode(record.value, NotificationJob)))
                except SchemaError as exc:
                    dead.append(self._dead_letter(record, exc))
            offsets[tp] = records[-1].offset + 1
        return _Batch(await self.deliverer.prepare(items), dead, offsets)

    async def _jobs_loop(self, consumer: AIOKafkaConsumer) -> None:
        # Sends stay one chunk at a time (claimed right before it goes, so a crash leaves at most one chunk
        # unconfirmed). Around them everything else overlaps: the next batch is fetched, decoded and its
        # devices read while the current one is sent, and a batch's publish + commit run behind the next
        # batches' sends. Commits go in order and only after the batch's outputs (and every earlier
        # batch's) are acknowledged; a prefetched batch not sent when stopping is not committed either.
        tail: asyncio.Task | None = None
        in_flight: collections.deque[asyncio.Task] = collections.deque()
        ahead: asyncio.Task[_Batch | None] | None = None
        try:
            while not self._stopping.is_set():
                batch = await (ahead or self._next_batch(consumer))
                ahead = None
                while in_flight and in_flight[0].done():
                    in_flight.popleft().result()  # a failed publish stops the worker, uncommitted
                if batch is None:
                    continue
                ahead = asyncio.ensure_future(self._next_batch(consumer))
                out = await self.deliverer.deliver(batch.prepared)
                tail = asyncio.create_task(self._publish_then_commit(consumer, out, batch.dead, batch.offsets, tail))
                in_flight.append(tail)
                while len(in_flight) >= self.max_in_flight:
                    await in_flight.popleft()
            if ahead is not None:
                ahead.cancel()  # fetched but not sent: left uncommitted, redelivered to whoever reads next
                with contextlib.suppress(asyncio.CancelledError):
                    await ahead
            await asyncio.gather(*in_flight)  # stopping: finish what was sent, then return
        except BaseException:
            if ahead is not None:
                ahead.cancel()
            for task in in_flight:
                task.cancel()  # not committed: the records are redelivered and deduplicated
            raise

    async def _publish_then_commit(
        self,
        consumer: AIOKafkaConsumer,
        out: Outputs,
        dead: list[tuple[bytes | None, DeadLetter]],
        offsets: dict[TopicPartition, int],
        previous: asyncio.Task | None,
    ) -> None:
        await self._publish(out, dead)
        if previous is not None:
            await previous  # commits go in batch order; an earlier failure means no commit here either
        await _commit(consumer, offsets)

    async def _retry_loop(self, consumer: AIOKafkaConsumer) -> None:
        # Each partition is a queue ordered (mostly) by due time: process what is due, then pause that
        # partition until its head is due, so one far-off retry never holds back other partitions.
        loop = asyncio.get_running_loop()
        while not self._stopping.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=self.batch_size)
            if not batches:
                continue
            now = self.clock()
            items, dead, offsets = [], [], {}
            for tp, records in batches.items():
                for record in records:
                    try:
                        retry = decode(record.value, JobRetry)
                    except SchemaError as exc:
                        dead.append(self._dead_letter(record, exc))
                        offsets[tp] = record.offset + 1
                        continue
                    if retry.due_at_ms > now:
                        consumer.seek(tp, record.offset)
                        consumer.pause(tp)
                        loop.call_later((retry.due_at_ms - now) / 1000, _resume, consumer, tp)
                        break
                    hashes = frozenset(retry.token_hashes) or None
                    items.append(WorkItem(retry.job, retry.attempt, hashes))
                    offsets[tp] = record.offset + 1
            if items or dead:
                await self._publish(await self.deliverer.handle(items), dead)
            if offsets:
                await _commit(consumer, offsets)

    async def _tokens_loop(self, consumer: AIOKafkaConsumer) -> None:
        while not self._stopping.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=self.batch_size)
            offsets = {}
            dead = []
            updates = []
            for tp, records in batches.items():
                for record in records:
                    try:
                        t = decode(record.value, DeviceToken)
                        validate(t, now_ms=self.clock())  # an empty user id or absurd time never reaches Redis
                    except SchemaError as exc:
                        dead.append(self._dead_letter(record, exc))
                        continue
                    updates.append(t)
                offsets[tp] = records[-1].offset + 1
            await self.tokens.apply_many(updates)
            if dead:
                await self._publish(Outputs(), dead)
            if offsets:
                await _commit(consumer, offsets)


async def _commit(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
    """Commit what is still ours; after a rebalance the new owner redelivers and idempotency dedupes."""
    mine = {tp: offset for tp, offset in offsets.items() if tp in consumer.assignment()}
    if not mine:
        return
    try:
        await consumer.commit(mine)
    except (CommitFailedError, IllegalStateError) as exc:
        log.warning("commit lost to a rebalance (records will be redelivered and deduplicated): %s", exc)


def _resume(consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
    if tp in consumer.assignment():
        consumer.resume(tp)
