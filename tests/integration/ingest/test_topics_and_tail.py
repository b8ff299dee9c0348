"""`nudge topics apply` is idempotent against the real broker; `nudge tail` prints topics as JSON lines."""

from __future__ import annotations

import base64
import io
import json

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import ConfigResource

from connectors.ingest.publisher import EventPublisher
from connectors.ingest.tail import tail
from connectors.ingest.topics_spec import TopicSpec, apply_topics, default_specs
from schemas import topics
from schemas.records import BehaviorEvent
from tests.support.kafka import create_topics, delete_topics


def configs(admin, name: str) -> dict[str, str]:
    resource = ConfigResource(ConfigResource.Type.TOPIC, name)
    return {k: v.value for k, v in admin.describe_configs([resource])[resource].result(timeout=15).items()}


def partitions(admin, name: str) -> int:
    return len(admin.list_topics(name, timeout=10).topics[name].partitions)


@pytest.fixture
def prefix(kafka_admin, unique: str):
    prefix = f"{unique}."
    yield prefix
    names = [t for t in kafka_admin.list_topics(timeout=10).topics if t.startswith(prefix)]
    delete_topics(kafka_admin, names)


def test_apply_is_idempotent_and_only_grows(kafka_admin, prefix: str) -> None:
    specs = default_specs(partitions=3)
    events = prefix + topics.BEHAVIOR_EVENTS
    profiles = prefix + topics.USER_PROFILES
    # an older deployment: fewer partitions, wrong cleanup policy
    create_topics(kafka_admin, [profiles], partitions=1, **{"cleanup.policy": "delete"})

    planned = apply_topics(kafka_admin, specs, prefix=prefix, dry_run=True)
    assert profiles in planned.partitions_raised and events in planned.created
    assert events not in kafka_admin.list_topics(timeout=10).topics  # a plan changes nothing

    first = apply_topics(kafka_admin, specs, prefix=prefix)
    assert sorted(first.created) == sorted(prefix + s.name for s in specs if s.name != topics.USER_PROFILES)
    assert first.partitions_raised == [profiles] and first.configs_changed == [profiles]

    second = apply_topics(kafka_admin, specs, prefix=prefix)
    assert (second.created, second.partitions_raised, second.configs_changed) == ([], [], [])
    assert len(second.unchanged) == len(specs)

    assert partitions(kafka_admin, events) == 3 and partitions(kafka_admin, profiles) == 3
    assert configs(kafka_admin, profiles)["cleanup.policy"] == "compact"
    assert configs(kafka_admin, prefix + topics.DEVICE_TOKENS)["cleanup.policy"] == "compact"
    assert configs(kafka_admin, events)["retention.ms"] == str(7 * 86_400_000)

    shrunk = apply_topics(kafka_admin, [TopicSpec(topics.BEHAVIOR_EVENTS, 1, {})], prefix=prefix)
    assert partitions(kafka_admin, events) == 3  # never shrinks
    assert "more than the 1 specified" in shrunk.warnings[0]


def test_tail_prints_records_and_undecodable_bytes(kafka_bootstrap: str, topic_factory) -> None:
    topic = topic_factory("behavior.events")
    event = BehaviorEvent(event_id="e1", user_id="u1", type="view", event_time_ms=1_700_000_000_000)
    with EventPublisher(kafka_bootstrap, topic_overrides={BehaviorEvent: topic}) as publisher:
        publisher.send(event)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    producer.produce(topic, b"\xff\x00garbage", key=b"\xfe")
    producer.flush(10)

    out = io.StringIO()
    printed = tail({"bootstrap.servers": kafka_bootstrap}, topic, out, from_beginning=True, max_messages=2)
    assert printed == 2
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["type"] == "BehaviorEvent" and first["key"] == "u1"
    assert first["value"]["event_id"] == "e1" and first["value"]["properties"] == {}
    assert base64.b64decode(second["value_base64"]) == b"\xff\x00garbage"
    assert "not Avro single-object encoding" in second["error"] and second["key"] == "base64:/g=="


def test_tail_of_a_missing_topic_is_a_clear_error(kafka_bootstrap: str, unique: str) -> None:
    with pytest.raises(Exception, match="does not exist"):
        tail(
            {"bootstrap.servers": kafka_bootstrap, "allow.auto.create.topics": False},
            f"{unique}.nope",
            io.StringIO(),
            max_messages=1,
        )
