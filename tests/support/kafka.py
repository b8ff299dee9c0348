"""Helpers for integration tests against the real local broker."""

from __future__ import annotations

import contextlib
import time

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic


def wait_for_broker(bootstrap: str, timeout: float = 10.0) -> AdminClient:
    """Return an admin client once the broker answers, or raise with a hint."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise RuntimeError(
            f"no Kafka broker answers at {bootstrap}: start the local stack with `make up` "
            f"(or set NUDGE_TEST_KAFKA) ({exc})"
        ) from exc
    return admin


def create_topics(admin: AdminClient, names: list[str], partitions: int = 1, **config: str) -> None:
    """Create topics and wait until each is ready."""
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=partitions, replication_factor=1, config=config) for n in names],
        operation_timeout=10,
    )
    for future in futures.values():
        future.result(timeout=15)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # creation is acknowledged before metadata propagates
        topics = admin.list_topics(timeout=5).topics
        if all(n in topics and topics[n].partitions and not topics[n].error for n in names):
            return
        time.sleep(0.1)
    raise RuntimeError(f"topics {names} not visible in metadata after 15 s")


def delete_topics(admin: AdminClient, names: list[str]) -> None:
    """Delete topics, ignoring ones already gone."""
    if not names:
        return
    for future in admin.delete_topics(names, operation_timeout=10).values():
        with contextlib.suppress(KafkaException):
            future.result(timeout=15)


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list:
    """Read `expected` messages from the start of `topic` (or fail after `timeout` s)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{topic}-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    messages = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    continue  # the producer side has not created it yet
                raise KafkaException(msg.error())
            messages.append(msg)
    finally:
        consumer.close()
    return messages
