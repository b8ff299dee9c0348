"""The worker's transaction on the real broker: outputs and offsets visible together at the commit, or never."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import ProducerFenced
from confluent_kafka import Consumer, KafkaError, TopicPartition
from faust.types import TP

from streams.fastpath.transaction import Transaction


def committed_view(bootstrap: str, topic: str) -> list[bytes]:
    """Everything a read_committed reader (librdkafka's default) sees on partition 0 now."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"view-{uuid.uuid4().hex[:8]}",
                         "enable.partition.eof": True})  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, 0)])
    seen: list[bytes] = []
    try:
        while True:
            msgs = consumer.consume(100, timeout=5)
            if not msgs:
                raise AssertionError(f"{topic}: no end of partition within 5 s")
            for msg in msgs:
                if msg.error() is None:
                    seen.append(msg.value())
                elif msg.error().code() == KafkaError._PARTITION_EOF:
                    return seen
    finally:
        consumer.close()


def group_offset(bootstrap: str, group: str, topic: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return consumer.committed([TopicPartition(topic, 0)], timeout=10)[0].offset
    finally:
        consumer.close()


def transaction(bootstrap: str, transactional_id: str) -> Transaction:
    return Transaction(lambda tid: AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=tid),
                       transactional_id)  # fmt: skip


async def test_outputs_and_offsets_become_visible_together_at_the_commit(kafka_bootstrap, topic_factory) -> None:
    out, source = topic_factory("tx-out"), topic_factory("tx-in")
    group = f"tx-group-{uuid.uuid4().hex[:8]}"
    tx = transaction(kafka_bootstrap, f"tx-{uuid.uuid4().hex[:8]}")
    await tx.start()
    try:
        sent = [await tx.send(out, b"k", b"job-1", 0, None, None)]
        sent += await tx.send_records(out, 0, [(b"k", b"state-1"), (b"k", b"state-2")])
        await asyncio.gather(*sent)  # acknowledged by the broker, yet inside an open transaction
        assert await asyncio.to_thread(committed_view, kafka_bootstrap, out) == []
        await tx.commit({TP(source, 0): 42}, group)
        assert await asyncio.to_thread(committed_view, kafka_bootstrap, out) == [b"job-1", b"state-1", b"state-2"]
        assert await asyncio.to_thread(group_offset, kafka_bootstrap, group, source) == 42
    finally:
        await tx.stop()


async def test_a_restarted_worker_aborts_what_its_killed_incarnation_left_open(kafka_bootstrap, topic_factory) -> None:
    out = topic_factory("tx-out")
    transactional_id = f"tx-{uuid.uuid4().hex[:8]}"
    killed = transaction(kafka_bootstrap, transactional_id)
    await killed.start()
    await asyncio.gather(await killed.send(out, None, b"never seen", 0, None, None))
    restarted = transaction(kafka_bootstrap, transactional_id)  # the same id: the pod after its restart
    await restarted.start()
    try:
        with pytest.raises(ProducerFenced):  # the zombie cannot commit what it sent
            await killed.commit({}, "any")
        await asyncio.gather(await restarted.send(out, None, b"redone", 0, None, None))
        await restarted.commit({}, "any")
        assert await asyncio.to_thread(committed_view, kafka_bootstrap, out) == [b"redone"]
    finally:
        await restarted.stop()
        await killed.stop()
