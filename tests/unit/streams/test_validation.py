"""Input records become valid records or dead letters with a reason."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.codec import encode
from schemas.records import BehaviorEvent, DeadLetter, DeviceToken
from streams.validation import check_record

NOW = 1_700_000_000_000
EVENT = BehaviorEvent(event_id="e1", user_id="u1", type="view", event_time_ms=NOW - 5)
WHERE = {"topic": "behavior.events", "partition": 3, "offset": 42, "now_ms": NOW}


def test_valid_event_passes() -> None:
    assert check_record(encode(EVENT), b"u1", **WHERE) == EVENT


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        (b"", "empty_value", "no value"),
        (None, "empty_value", "no value"),
        (b'{"user_id": "u1"}', "bad_framing", "not Avro single-object encoding"),
        (b"\xc3\x01" + b"\xff" * 8 + b"\x00", "unknown_fingerprint", "ffffffffffffffff"),
        (encode(EVENT)[:-4], "bad_body", "bad BehaviorEvent body"),
        (encode(dataclasses.replace(EVENT, user_id="")), "missing_user_id", "user_id is empty"),
        (encode(dataclasses.replace(EVENT, event_time_ms=1_511_658_000)), "absurd_timestamp", "before 2000"),
        (encode(dataclasses.replace(EVENT, event_time_ms=NOW + 2 * 86_400_000)), "absurd_timestamp", "after now"),
        (encode(DeviceToken(user_id="u", token="t", platform="ios", updated_at_ms=NOW)), "wrong_type", "DeviceToken"),
        (encode(dataclasses.replace(EVENT, properties={"x": "y" * 3000})), "oversized", "limit of 2000"),
    ],
)
def test_bad_records_become_dead_letters(value: bytes | None, kind: str, message: str) -> None:
    result = check_record(value, b"key", max_value_bytes=2000, **WHERE)
    assert isinstance(result, DeadLetter)
    assert result.error_kind == kind
    assert message in result.error
    assert (result.source_topic, result.partition, result.offset, result.at_ms) == ("behavior.events", 3, 42, NOW)
    assert result.key == b"key" and result.value == (value or b"")
    assert isinstance(encode(result), bytes)  # a dead letter is itself publishable


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=400))
def test_garbage_always_becomes_a_dead_letter(garbage: bytes) -> None:
    result = check_record(garbage, None, **WHERE)
    assert isinstance(result, DeadLetter) and result.error and result.error_kind
