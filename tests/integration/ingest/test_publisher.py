"""EventPublisher -> real Kafka -> codec."""

from __future__ import annotations

import pytest

from connectors.ingest.errors import PublishError
from connectors.ingest.publisher import EventPublisher
from schemas.codec import decode
from schemas.records import BehaviorEvent, DeviceToken, EventContext, UserProfile
from tests.support.kafka import consume_all

NOW = 1_700_000_000_000


def test_published_records_decode_from_kafka(kafka_bootstrap: str, topic_factory) -> None:
    events_topic = topic_factory("behavior.events", partitions=3)
    profiles_topic = topic_factory("user.profiles", **{"cleanup.policy": "compact"})
    devices_topic = topic_factory("device.tokens")
    events = [
        BehaviorEvent(
            event_id=f"e{i}",
            user_id=f"u{i % 7}",
            type="cart" if i % 3 else "view",
            event_time_ms=NOW + i,
            item_id=f"i{i}",
            price=1.5 * i,
            properties={"n": i, "ok": i % 2 == 0},
            context=EventContext(platform="android"),
        )
        for i in range(200)
    ]
    profile = UserProfile(user_id="u1", first_name="Ada", time_zone="Europe/London", updated_at_ms=NOW)
    device = DeviceToken(user_id="u1", token="tok-1", platform="android", updated_at_ms=NOW)
    overrides = {BehaviorEvent: events_topic, UserProfile: profiles_topic, DeviceToken: devices_topic}
    with EventPublisher(kafka_bootstrap, topic_overrides=overrides, clock=lambda: NOW) as publisher:
        for event in events:
            publisher.send(event)
        publisher.send(profile)
        publisher.send(device)
        publisher.flush()
        assert publisher.delivered == 202

    messages = consume_all(kafka_bootstrap, events_topic, expected=200)
    assert sorted((decode(m.value()) for m in messages), key=lambda e: e.event_time_ms) == events
    assert all(m.key().decode() == decode(m.value()).user_id for m in messages)
    by_user: dict[str, set[int]] = {}
    for m in messages:  # one user's events share a partition, so they stay in order
        by_user.setdefault(m.key().decode(), set()).add(m.partition())
    assert all(len(parts) == 1 for parts in by_user.values())
    assert [decode(m.value()) for m in consume_all(kafka_bootstrap, profiles_topic, 1)] == [profile]
    assert [decode(m.value()) for m in consume_all(kafka_bootstrap, devices_topic, 1)] == [device]


def test_rejected_deliveries_surface_as_errors(kafka_bootstrap: str, topic_factory) -> None:
    tiny = topic_factory("behavior.events", **{"max.message.bytes": "1024"})
    # random-looking text so compression cannot bring the batch under the topic's limit
    blob = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(3000))
    big = BehaviorEvent(event_id="e", user_id="u", type="view", event_time_ms=NOW, properties={"blob": blob})
    publisher = EventPublisher(
        kafka_bootstrap, topic_overrides={BehaviorEvent: tiny}, clock=lambda: NOW, max_record_bytes=1_000_000
    ).start()
    publisher.send(big)
    with pytest.raises(PublishError, match="1 failed") as info:
        publisher.close()
    assert info.value.failures[0][0] == tiny
    assert info.value.failures[0][1] == "u"
