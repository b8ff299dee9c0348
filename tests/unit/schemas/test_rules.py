"""Semantic validation of records."""

from __future__ import annotations

import dataclasses

import pytest

from schemas.codec import validate
from schemas.errors import AbsurdTimestampError, MissingFieldError, MissingUserIdError, ValidationError
from schemas.records import BehaviorEvent, CatalogItem, DeviceToken

NOW = 1_700_000_000_000
EVENT = BehaviorEvent(event_id="e1", user_id="u1", type="view", event_time_ms=NOW - 1000)


def test_good_event_passes() -> None:
    validate(EVENT, now_ms=NOW)


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"user_id": ""}, MissingUserIdError, "user_id is empty"),
        ({"user_id": "  "}, MissingUserIdError, "user_id is empty"),
        ({"event_id": ""}, MissingFieldError, "event_id is empty"),
        ({"event_time_ms": 1_511_658_000}, AbsurdTimestampError, "before 2000-01-01"),
        ({"event_time_ms": NOW + 86_400_001}, AbsurdTimestampError, "more than a day after now"),
        ({"price": -1.0}, ValidationError, "price=-1.0"),
        ({"price": float("inf")}, ValidationError, "finite"),
        ({"quantity": -2}, ValidationError, "quantity=-2"),
    ],
)
def test_bad_events_are_rejected(change: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        validate(dataclasses.replace(EVENT, **change), now_ms=NOW)


def test_future_check_needs_a_clock() -> None:
    validate(dataclasses.replace(EVENT, event_time_ms=NOW + 10 * 86_400_000))


def test_enums_are_checked() -> None:
    with pytest.raises(ValidationError, match="platform='symbian'"):
        validate(DeviceToken(user_id="u", token="t", platform="symbian", updated_at_ms=NOW))
    with pytest.raises(ValidationError, match="kind='sale'"):
        validate(CatalogItem(item_id="i", kind="sale", event_time_ms=NOW))


def test_non_record_is_rejected() -> None:
    with pytest.raises(ValidationError, match="not a contract record"):
        validate(object())
