"""EventPublisher checks records before anything reaches Kafka."""

from __future__ import annotations

import pytest

from connectors.ingest.errors import InvalidRecordError, PublisherNotStartedError
from connectors.ingest.publisher import EventPublisher
from schemas.codec import decode
from schemas.records import BehaviorEvent, CatalogItem, DeviceToken, NotificationJob, UserProfile

NOW = 1_700_000_000_000
EVENT = BehaviorEvent(event_id="e1", user_id="u1", type="view", event_time_ms=NOW)


def publisher(**kw) -> EventPublisher:
    return EventPublisher("127.0.0.1:1", clock=lambda: NOW, **kw)


def test_routes_and_keys() -> None:
    p = publisher(topic_prefix="dev.")
    assert p.check(EVENT)[:2] == ("dev.behavior.events", "u1")
    assert decode(p.check(EVENT)[2]) == EVENT
    assert p.check(UserProfile(user_id="u2", updated_at_ms=NOW))[:2] == ("dev.user.profiles", "u2")
    assert p.check(DeviceToken(user_id="u3", token="t", platform="ios", updated_at_ms=NOW))[:2] == (
        "dev.device.tokens",
        "u3",
    )
    assert p.check(CatalogItem(item_id="i9", kind="new_arrival", event_time_ms=NOW))[:2] == (
        "dev.catalog.updates",
        "i9",
    )


@pytest.mark.parametrize(
    ("record", "kind", "message"),
    [
        (BehaviorEvent(event_id="e", user_id="", type="view", event_time_ms=NOW), "missing_user_id", "user_id"),
        (BehaviorEvent(event_id="e", user_id="u", type="view", event_time_ms=5), "absurd_timestamp", "2000"),
        (
            NotificationJob(
                job_id="j",
                firing_id="f",
                user_id="u",
                trigger_id="t",
                variant="a",
                title="t",
                body="b",
                priority="high",
                ttl_seconds=1,
                created_at_ms=NOW,
                not_after_ms=NOW,
            ),
            "wrong_type",
            "cannot be published",
        ),
    ],
)
def test_bad_records_are_refused_with_the_reason(record: object, kind: str, message: str) -> None:
    with pytest.raises(InvalidRecordError, match=message) as info:
        publisher().check(record)
    assert info.value.kind == kind


def test_oversized_records_are_refused() -> None:
    big = BehaviorEvent(event_id="e", user_id="u", type="view", event_time_ms=NOW, properties={"blob": "x" * 2000})
    with pytest.raises(InvalidRecordError, match="limit 1000") as info:
        publisher(max_record_bytes=1000).check(big)
    assert info.value.kind == "oversized"


def test_sending_needs_start() -> None:
    with pytest.raises(PublisherNotStartedError):
        publisher().send(EVENT)
