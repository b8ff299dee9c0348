"""Read a topic from its beginning to the end offsets it had when the read started (`explain`, `report`, `tail`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from schemas.codec import decode
from schemas.errors import SchemaError


def missing_topic(topic: str) -> KafkaException:
    """The error a read of a topic the broker does not list raises."""
    return KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"topic {topic} does not exist"))


def is_missing_topic(exc: KafkaException) -> bool:
    """Whether `exc` says the topic does not exist."""
    return bool(exc.args) and exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


def read_to_end(config: dict[str, Any], topic: str, timeout_s: float = 60.0) -> Iterator[Message]:
    """Yield every message of `topic` up to its current end offsets, partition by partition in offset order.

    Raises KafkaException (see `is_missing_topic`) without such a topic and TimeoutError when a partition
    is not read to its end within `timeout_s`. Messages published after the start are not yielded.
    """
    consumer = Consumer(
        {
            **config,
            "group.id": f"nudge-read-{uuid.uuid4().hex[:8]}",  # never commits: a read-only look
            "enable.auto.commit": False,
            "enable.partition.eof": True,  # the end is reached even when its last offsets are not records
        }
    )
    try:
        info = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise missing_topic(topic)
        ends: dict[int, int] = {}
        for p in info.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high > low:  # an empty or fully expired partition has nothing to read
                ends[p] = high
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        todo = set(ends)
        deadline = time.monotonic() + timeout_s
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: partitions {sorted(todo)} not read to the end within {timeout_s:.0f} s")
            for msg in consumer.consume(5000, timeout=0.5):
                part, offset, error = msg.partition(), msg.offset(), msg.error()
                if error is not None:
                    if error.fatal():
                        raise KafkaException(error)
                    if error.code() == KafkaError._PARTITION_EOF and offset >= ends.get(part, 0):
                        todo.discard(part)
                    continue  # a transient error: the consumer retries by itself
                if part not in todo or offset >= ends[part]:
                    continue
                if offset == ends[part] - 1:
                    todo.discard(part)
                yield msg
    finally:
        consumer.close()


def read_records(
    config: dict[str, Any],
    topic: str,
    cls: type,
    *,
    key: bytes | None = None,
    keep: Callable[[Any], bool] | None = None,
    timeout_s: float = 60.0,
) -> tuple[list[Any], int]:
    """Records of `cls` on `topic` to its end (keyed `key` when given, and kept) and how many did not decode."""
    found: list[Any] = []
    bad = 0
    for msg in read_to_end(config, topic, timeout_s):
        if key is not None and msg.key() not in (None, key):
            continue  # keyed by user id: skip other users without decoding
        try:
            record = decode(msg.value() or b"", cls)  # a tombstone (no value) does not decode either
        except SchemaError:
            bad += 1
            continue
        if keep is None or keep(record):
            found.append(record)
    return found, bad
