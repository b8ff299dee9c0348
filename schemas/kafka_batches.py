"""Queue many records on an aiokafka producer as whole record batches: a future per batch, not per record.

aiokafka's `send()` costs a metadata check, a partitioner call and a future per record; a batch built with
`create_batch()` costs one append per record. Used for changelog writes (stream side) and delivery results.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

Record = tuple[bytes | None, bytes | None]  # (key, value)


def default_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a key (murmur2, as the Java client and aiokafka)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


async def send_to_partition(
    producer: AIOKafkaProducer, topic: str, partition: int, records: Iterable[Record]
) -> tuple[list[asyncio.Future], int]:
    """Queue `records` to one partition; the batches' futures and how many records the last batch holds."""
    futures: list[asyncio.Future] = []
    batch, count = producer.create_batch(), 0
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it, start the next
            futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch, count = producer.create_batch(), 0
            batch.append(key=key, value=value, timestamp=None)
        count += 1
    if count:
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    return futures, count


async def send_reporting_last_offset(
    producer: AIOKafkaProducer,
    topic: str,
    partition: int,
    records: Iterable[Record],
    on_done: Callable[[int], None] | None = None,
) -> list[asyncio.Future]:
    """`send_to_partition`, then `on_done(offset)` with the last record's offset once every batch is acknowledged
    (a partition's batches are acknowledged in order: the last batch's ack is the last)."""
    futures, tail = await send_to_partition(producer, topic, partition, records)
    if on_done is not None and futures:
        futures[-1].add_done_callback(
            lambda fut: on_done(fut.result().offset + tail - 1) if not fut.cancelled() and not fut.exception() else None
        )
    return futures


async def send_keyed(
    producer: AIOKafkaProducer,
    topic: str,
    records: Iterable[tuple[bytes, bytes]],
    partition_of: Callable[[bytes, int], int] = default_partition,
) -> list[asyncio.Future]:
    """Queue keyed records where the default partitioner would put them, batched per partition."""
    partitions = len(await producer.partitions_for(topic))
    by_partition: dict[int, list[Record]] = defaultdict(list)
    for key, value in records:
        by_partition[partition_of(key, partitions)].append((key, value))
    futures: list[asyncio.Future] = []
    for partition, batch in by_partition.items():
        futures += (await send_to_partition(producer, topic, partition, batch))[0]
    return futures
