"""The limit: raw confluent-kafka and aiokafka consumers that read and decode every record."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiokafka import AIOKafkaConsumer
from confluent_kafka import Consumer


def confluent_rate(bootstrap: str, topic: str, count: int, timeout_s: float = 120) -> float:
    """Read and decode `count` records with confluent-kafka; return records/s."""
    from schemas.codec import decode

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-raw-confluent-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "fetch.max.bytes": 52_428_800,
        }
    )
    consumer.subscribe([topic])
    seen, started = 0, None
    deadline = time.monotonic() + timeout_s
    try:
        while seen < count and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10_000, timeout=1.0):
                if msg.error():
                    continue
                if started is None:
                    started = time.perf_counter()
                decode(msg.value())
                seen += 1
    finally:
        consumer.close()
    if seen < count or started is None:
        raise RuntimeError(f"confluent consumer read {seen}/{count} records before timing out")
    return count / (time.perf_counter() - started)


async def _aiokafka_rate(bootstrap: str, topic: str, count: int, timeout_s: float) -> float:
    from schemas.codec import decode

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-raw-aiokafka-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=10_485_760,
        fetch_max_bytes=52_428_800,
    )
    await consumer.start()
    seen, started = 0, None
    deadline = time.monotonic() + timeout_s
    try:
        while seen < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                if started is None and records:
                    started = time.perf_counter()
                for record in records:
                    decode(record.value)
                seen += len(records)
    finally:
        await consumer.stop()
    if seen < count or started is None:
        raise RuntimeError(f"aiokafka consumer read {seen}/{count} records before timing out")
    return count / (time.perf_counter() - started)


def aiokafka_rate(bootstrap: str, topic: str, count: int, timeout_s: float = 120) -> float:
    """Read and decode `count` records with aiokafka; return records/s."""
    return asyncio.run(_aiokafka_rate(bootstrap, topic, count, timeout_s))
