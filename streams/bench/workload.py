"""The benchmark input: realistic behaviour events, encoded once and published once per run."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from confluent_kafka import Producer

# Behaviour mix of the Taobao clickstream (pv 89%, cart 5.5%, fav 3.1%, buy 2.2%).
TYPE_WEIGHTS = {"view": 0.892, "cart": 0.055, "fav": 0.031, "purchase": 0.022}
BASE_TIME_MS = 1_511_658_000_000  # 2017-11-26 01:00 UTC, the start of the shared clickstream
MEAN_STEP_MS = 20  # event time between two events unless a span is given: ~50 events/s of event time


def events(count: int, users: int, seed: int = 7, every_user: bool = False,
           span_ms: int | None = None) -> Iterator[tuple[bytes, bytes]]:  # fmt: skip
    """Yield (key, encoded BehaviorEvent) pairs in event-time order, deterministically."""
    from schemas.codec import encode

    for event in records(count, users, seed, every_user, span_ms):
        yield event.user_id.encode(), encode(event)


def records(count: int, users: int, seed: int = 7, every_user: bool = False,
            span_ms: int | None = None) -> Iterator[Any]:  # fmt: skip
    """The workload's BehaviorEvents, in event-time order, deterministically.

    Users are drawn at random; with `every_user` each of them instead has count // users events (the rest
    go to the first users), in a shuffled order, so a scale run holds exactly `users` states. The events are
    MEAN_STEP_MS of event time apart on average, or spread over about `span_ms` when it is given (a larger app
    is more users in the same hours, not a longer history).
    """
    from schemas.records import BehaviorEvent

    rng = random.Random(seed)
    types, weights = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
    order: list[int] | None = None
    if every_user:
        order = [i % users for i in range(count)]
        rng.shuffle(order)
    # Steps of a span are fractions of a millisecond once there are more events than milliseconds: kept as a float,
    # so that any number of events spans the same event time (a whole-millisecond step rounds it away).
    span_step = None if span_ms is None else 2 * span_ms / max(count, 1)
    offset = 0.0
    t = BASE_TIME_MS
    for i in range(count):
        if span_step is None:
            t += rng.randint(0, 2 * MEAN_STEP_MS)
        else:
            offset += rng.random() * span_step
            t = BASE_TIME_MS + int(offset)
        user = f"u{rng.randrange(users) if order is None else order[i]}"
        kind = rng.choices(types, weights)[0]
        item = rng.randrange(200_000)
        event = BehaviorEvent(
            event_id=f"bench-{seed}-{i}",
            user_id=user,
            type=kind,
            event_time_ms=t,
            item_id=f"i{item}",
            category=f"c{item % 500}",
            price=round(5 + (item % 1000) / 10, 2),
            currency="EUR",
            cart_id=user if kind in ("cart", "purchase") else None,
        )
        yield event


def publish(bootstrap: str, topic: str, count: int, users: int, seed: int = 7, every_user: bool = False,
            span_ms: int | None = None) -> int:  # fmt: skip
    """Publish the workload to `topic`; return the number of records written."""
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    errors: list[str] = []

    def report(err, _msg) -> None:
        if err is not None:
            errors.append(str(err))

    written = 0
    for key, value in events(count, users, seed, every_user, span_ms):
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        written += 1
        if written % 10_000 == 0:
            producer.poll(0)
    if producer.flush(60) != 0 or errors:
        raise RuntimeError(f"publishing the workload failed: {errors[:3] or 'flush timed out'}")
    return written
