"""EventPublisher: the producer SDK that validates and publishes contract records with confluent-kafka."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, Message, Producer

from connectors.ingest.errors import InvalidRecordError, PublisherNotStartedError, PublishError
from schemas import topics
from schemas.errors import SchemaError
from schemas.records import BehaviorEvent, CatalogItem, DeviceToken, UserProfile
from schemas.rules import validate
from schemas.serde import Serde, SingleObjectSerde

# What each input record is published to, and which field is its key (partitioning by user keeps
# one user's events in order on one partition).
ROUTES: dict[type, tuple[str, str]] = {
    BehaviorEvent: (topics.BEHAVIOR_EVENTS, "user_id"),
    UserProfile: (topics.USER_PROFILES, "user_id"),
    DeviceToken: (topics.DEVICE_TOKENS, "user_id"),
    CatalogItem: (topics.CATALOG_UPDATES, "item_id"),
}

# Producer defaults: idempotent (no duplicates or reordering on retry), zstd (best ratio for small
# Avro records at low CPU), a short linger so batches fill under load without adding visible latency.
DEFAULT_CONFIG: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "compression.type": "zstd",
    "linger.ms": 5,
    "batch.size": 512 * 1024,
    "queue.buffering.max.messages": 500_000,
}
# Keep failure details bounded: a dead broker would otherwise pile up one entry per record.
MAX_KEPT_FAILURES = 100
# Kafka's default message.max.bytes is ~1 MB; anything near it is a client bug, not an event.
DEFAULT_MAX_RECORD_BYTES = 256 * 1024


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class EventPublisher:
    """Validate, encode and publish events, profiles, device tokens and catalog items."""

    def __init__(
        self,
        bootstrap: str,
        *,
        topic_prefix: str = "",
        topic_overrides: dict[type, str] | None = None,
        serde: Serde | None = None,
        config: dict[str, Any] | None = None,
        max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
        clock: Callable[[], int] = _now_ms,
    ) -> None:
        self.config = {**DEFAULT_CONFIG, **(config or {}), "bootstrap.servers": bootstrap}
        self.serde = serde or SingleObjectSerde()
        self.max_record_bytes = max_record_bytes
        self.clock = clock
        self.routes = {
            cls: ((topic_overrides or {}).get(cls) or topics.prefixed(topic_prefix, topic), key)
            for cls, (topic, key) in ROUTES.items()
        }
        self.failures: list[tuple[str, str | None, str]] = []
        self.failed = 0
        self.delivered = 0
        self._producer: Producer | None = None

    def start(self) -> EventPublisher:
        """Create the Kafka producer."""
        if self._producer is None:
            self._producer = Producer(self.config)
        return self

    def __enter__(self) -> EventPublisher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def topic_for(self, cls: type) -> str:
        """The topic records of `cls` go to."""
        return self.routes[cls][0]

    def check(self, record: Any) -> tuple[str, str, bytes]:
        """Validate and encode `record`: (topic, key, value), or InvalidRecordError saying why."""
        route = self.routes.get(type(record))
        if route is None:
            raise InvalidRecordError(f"{type(record).__name__} cannot be published here", "wrong_type")
        topic, key_field = route
        try:
            validate(record, now_ms=self.clock())
            value = self.serde.encode(record, topic)
        except SchemaError as exc:
            raise InvalidRecordError(f"{type(record).__name__} rejected: {exc}", exc.kind) from exc
        if len(value) > self.max_record_bytes:
            raise InvalidRecordError(
                f"{type(record).__name__} rejected: {len(value)} bytes encoded, limit {self.max_record_bytes}",
                "oversized",
            )
        return topic, getattr(record, key_field), value

    def send(self, record: Any) -> None:
        """Queue one record for delivery; InvalidRecordError if it breaks the contract."""
        topic, key, value = self.check(record)
        self.produce(topic, key, value)

    def produce(self, topic: str, key: str | bytes | None, value: bytes) -> None:
        """Queue already-encoded bytes, waiting for room when the local queue is full (blocks the caller)."""
        while not self.try_produce(topic, key, value):
            self._require().poll(0.05)  # serve delivery reports: acknowledged records make room

    def try_produce(self, topic: str, key: str | bytes | None, value: bytes) -> bool:
        """Queue already-encoded bytes if the local queue has room; False (nothing queued) when it is full."""
        producer = self._require()
        try:
            producer.produce(topic, value, key, on_delivery=self._on_delivery)
        except BufferError:
            return False
        producer.poll(0)
        return True

    @property
    def capacity(self) -> int:
        """The local queue's message limit (`queue.buffering.max.messages`)."""
        return int(self.config["queue.buffering.max.messages"])

    def room(self) -> int:
        """How many more records the local queue takes now (its limit less those the broker has not acknowledged)."""
        return self.capacity - len(self._require())

    def queued(self) -> int:
        """Records queued or in flight, not yet acknowledged by the broker."""
        return len(self._producer) if self._producer is not None else 0

    def poll(self, timeout: float = 0) -> int:
        """Serve delivery reports."""
        return self._require().poll(timeout)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for every queued record; PublishError if any was not delivered."""
        remaining = self._require().flush(timeout)
        if remaining:
            self.failed += remaining
            self._raise(f"{remaining} records still undelivered after {timeout} s")
        if self.failures:
            self._raise("some records were not delivered")

    def close(self, timeout: float = 30.0) -> None:
        """Flush and drop the producer; raises PublishError for records that did not make it."""
        if self._producer is None:
            return
        try:
            self.flush(timeout)
        finally:
            self._producer = None

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.delivered += 1
            return
        self.failed += 1
        if len(self.failures) < MAX_KEPT_FAILURES:
            key = msg.key()
            self.failures.append((msg.topic() or "?", key.decode(errors="replace") if key else None, err.str()))

    def _raise(self, message: str) -> None:
        failures, self.failures = self.failures, []
        failed, self.failed = self.failed, 0
        detail = "; ".join(f"{t} key={k}: {e}" for t, k, e in failures[:3])
        raise PublishError(f"{message}: {failed} failed ({detail})", failures)

    def _require(self) -> Producer:
        if self._producer is None:
            raise PublisherNotStartedError("call start() (or use `with EventPublisher(...)`) before publishing")
        return self._producer
