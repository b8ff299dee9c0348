"""`nudge tail`: any topic as JSON lines, decoded through the codec (bytes as base64)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TextIO

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException, TopicPartition

from schemas.codec import default_codec
from schemas.errors import SchemaError

Decoder = Callable[[bytes, str], Any]


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _key(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode()


def to_line(
    topic: str,
    partition: int | None,
    offset: int | None,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    decode: Decoder,
) -> str:
    """One message as a JSON line: the decoded record, or the raw bytes and why they did not decode."""
    line: dict[str, Any] = {"topic": topic, "partition": partition, "offset": offset, "timestamp_ms": timestamp_ms}
    line["key"] = _key(key)
    if value is None:
        line["value"] = None
    else:
        try:
            record = decode(value, topic)
            line["type"] = type(record).__name__
            line["value"] = default_codec().to_json(record)
        except SchemaError as exc:
            line["error"] = str(exc)
            line["value_base64"] = _b64(value)
    return json.dumps(line, ensure_ascii=False)


def tail(
    config: dict[str, Any],
    topic: str,
    out: TextIO,
    *,
    from_beginning: bool = False,
    max_messages: int | None = None,
    idle_timeout_s: float | None = None,
    decode: Decoder | None = None,
) -> int:
    """Print `topic` as JSON lines until `max_messages`, `idle_timeout_s` without messages, or interruption."""
    decoder: Decoder = decode or (lambda data, _topic: default_codec().decode(data))
    consumer = Consumer(
        {
            **config,
            "group.id": f"nudge-tail-{uuid.uuid4().hex[:8]}",  # private: a quick look never moves anyone's offsets
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    printed = 0
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            raise KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"topic {topic} does not exist"))
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        consumer.assign([TopicPartition(topic, p, start) for p in metadata.partitions])
        last_seen = time.monotonic()
        while max_messages is None or printed < max_messages:
            msg = consumer.poll(0.5)
            if msg is None:
                if idle_timeout_s is not None and time.monotonic() - last_seen > idle_timeout_s:
                    break
                continue
            if msg.error():
                raise KafkaException(msg.error())
            last_seen = time.monotonic()
            out.write(
                to_line(topic, msg.partition(), msg.offset(), msg.timestamp()[1], msg.key(), msg.value(), decoder)
                + "\n"
            )
            out.flush()
            printed += 1
    finally:
        consumer.close()
    return printed
