"""`nudge simulate`'s runner on the real broker: publishes in event-time order and answers delivered pushes."""

from __future__ import annotations

import time

from confluent_kafka import Producer

from connectors.ingest.publisher import EventPublisher
from connectors.simulator.runner import SimulatorRunner
from connectors.simulator.world import SimConfig, World
from schemas.codec import decode, encode
from schemas.records import BehaviorEvent, CatalogItem, DeliveryResult, DeviceToken, UserProfile
from streams.commands.simulate import default_start_ms
from tests.support.kafka import consume_all


def result(job: str, user: str, status: str = "sent") -> DeliveryResult:
    return DeliveryResult(
        job_id=job, user_id=user, trigger_id="cart_abandoned", variant="urgent", provider="fcm", status=status,
        attempt=1, at_ms=time.time_ns() // 1_000_000,
    )  # fmt: skip


def test_runner_publishes_the_world_and_reacts_to_pushes(kafka_bootstrap: str, topic_factory) -> None:
    names = {cls: topic_factory(cls.__name__) for cls in (BehaviorEvent, UserProfile, DeviceToken, CatalogItem)}
    delivery = topic_factory("delivery")
    config = SimConfig(users=30, days=1, seed=3, start_ms=default_start_ms(1))
    world = World(config)
    users = sorted(world.users)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    old_ms = time.time_ns() // 1_000_000 - 3_600_000
    producer.produce(delivery, encode(result("stale", users[0])), users[0].encode(), timestamp=old_ms)
    assert producer.flush(10) == 0
    lines: list[str] = []
    runner = SimulatorRunner(
        world,
        EventPublisher(kafka_bootstrap, topic_overrides=names),
        bootstrap=kafka_bootstrap,
        delivery_topic=delivery,
        duration_s=3.0,
        linger_s=2.0,
        progress=lines.append,
    )
    runner.start()
    try:
        jobs = {f"job{i}": users[i % len(users)] for i in range(30)}
        for job, user in jobs.items():
            producer.produce(delivery, encode(result(job, user)), user.encode())
        producer.produce(delivery, encode(result("failed-job", users[1], "failed")), users[1].encode())
        producer.produce(delivery, b"garbage", b"x")
        assert producer.flush(10) == 0
        stats = runner.run()
    finally:
        runner.close()
    assert stats.pushes == 30 and stats.bad_results == 1 and stats.rejected == 0
    assert lines[-1].endswith("done")
    profiles = consume_all(kafka_bootstrap, names[UserProfile], 30)
    assert {decode(m.value(), UserProfile).user_id for m in profiles} == set(users)
    n_events = sum(v for k, v in stats.by_type.items() if k[0].islower())
    events = [decode(m.value(), BehaviorEvent) for m in consume_all(kafka_bootstrap, names[BehaviorEvent], n_events)]
    assert len(events) == n_events
    times = [e.event_time_ms for e in events]
    assert times == sorted(times)  # one partition: the order the world made them in
    feedback = {e.job_id for e in events if e.type == "notification_opened"}
    assert feedback and feedback <= set(jobs)  # the stale, failed and garbage results got no answer
    assert all(e.user_id == jobs[e.job_id] for e in events if e.job_id)
