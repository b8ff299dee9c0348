"""Read a topic with a private consumer that never commits: to the end it had at the start, or on (`tail`)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaError, KafkaException, Message, TopicPartition

from schemas.codec import decode
from schemas.errors import SchemaError

POLL_S = 0.5  # how long one fetch waits; also how soon a stop request or a timeout is noticed


def missing_topic(topic: str) -> KafkaException:
    """The error a read of a topic the broker does not list raises."""
    return KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, f"topic {topic} does not exist"))


def is_missing_topic(exc: KafkaException) -> bool:
    """Whether `exc` says the topic does not exist."""
    return bool(exc.args) and exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART


class TopicReader:
    """One topic, from its beginning or its end; `backlog` is how many messages it held when the read began."""

    def __init__(self, config: dict[str, Any], topic: str, *, from_beginning: bool = True) -> None:
        self.topic = topic
        self._consumer = Consumer(
            {
                **config,
                "group.id": f"nudge-read-{uuid.uuid4().hex[:8]}",  # private: never moves anyone's offsets
                "enable.auto.commit": False,
                "enable.partition.eof": True,  # the end is reached even when its last offsets are not records
            }
        )
        try:
            info = self._consumer.list_topics(topic, timeout=10).topics.get(topic)
            if info is None or info.error is not None or not info.partitions:
                raise missing_topic(topic)
            marks = {
                p: self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in info.partitions
            }
        except BaseException:
            self._consumer.close()
            raise
        self.partitions = len(marks)
        self.backlog = sum(high - low for low, high in marks.values())
        # what is left to read before the end the topic had now: nothing when starting at the end
        self.ends = {p: high for p, (low, high) in marks.items() if from_beginning and high > low}
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        self._consumer.assign([TopicPartition(topic, p, start) for p in marks])

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._consumer.close()

    def messages(
        self,
        *,
        to_end: bool = True,
        timeout_s: float | None = None,
        idle_timeout_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[Message]:
        """Yield messages in offset order per partition until the end (`to_end`), `idle_timeout_s` without
        any, or `stop` is set. TimeoutError when the end is not reached within `timeout_s`."""
        todo = set(self.ends)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last_seen = time.monotonic()
        while not (to_end and not todo) and not (stop is not None and stop.is_set()):
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.topic}: partitions {sorted(todo)} not read to the end within {timeout_s:.0f} s"
                )
            if idle_timeout_s is not None and time.monotonic() - last_seen > idle_timeout_s:
                return
            for msg in self._consumer.consume(5000, timeout=POLL_S):
                part, offset, error = msg.partition(), msg.offset(), msg.error()
                if error is not None:
                    if error.fatal():
                        raise KafkaException(error)
                    if error.code() == KafkaError._PARTITION_EOF and offset >= self.ends.get(part, 0):
                        todo.discard(part)
                    continue  # a transient error: the consumer retries by itself
                last_seen = time.monotonic()
                if to_end and (part not in todo or offset >= self.ends[part]):
                    continue  # published after the read began
                if part in todo and offset >= self.ends[part] - 1:
                    todo.discard(part)
                yield msg


def read_to_end(config: dict[str, Any], topic: str, timeout_s: float = 60.0) -> Iterator[Message]:
    """Yield every message of `topic` up to the end offsets it has now, partition by partition in offset order.

    Raises KafkaException (see `is_missing_topic`) without such a topic and TimeoutError when a partition
    is not read to its end within `timeout_s`. Messages published after the start are not yielded.
    """
    with TopicReader(config, topic) as reader:
        yield from reader.messages(timeout_s=timeout_s)


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
