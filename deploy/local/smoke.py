"""Smoke check of the local stack: publish a few events, read them back, touch Redis."""

from __future__ import annotations

import os
import sys
import time
import uuid

import redis
from confluent_kafka import Consumer, Producer

BOOTSTRAP = os.environ.get("NUDGE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
REDIS_URL = os.environ.get("NUDGE_REDIS_URL", "redis://127.0.0.1:6379/0")


def main() -> int:
    topic = f"smoke.{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": BOOTSTRAP, "enable.idempotence": True})
    for i in range(5):
        producer.produce(topic, key=f"user-{i}".encode(), value=f'{{"type": "view", "n": {i}}}'.encode())
    producer.flush(15)
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": topic, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    got, deadline = [], time.monotonic() + 30
    while len(got) < 5 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            got.append(msg.value().decode())
    consumer.close()
    print(f"Kafka: published 5 events to {topic}, read back {len(got)}")
    client = redis.Redis.from_url(REDIS_URL)
    client.set(f"smoke:{topic}", "ok", ex=60)
    print(f"Redis: {client.get(f'smoke:{topic}').decode()}")
    return 0 if len(got) == 5 else 1


if __name__ == "__main__":
    sys.exit(main())
