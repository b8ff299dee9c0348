"""BehaviorEvent checks: the inline fast path accepts exactly what the field-by-field rules accept."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from schemas.errors import AbsurdTimestampError, MissingFieldError, MissingUserIdError, ValidationError
from schemas.rules import MAX_FUTURE_MS, validate
from tests.support.records import event

NOW = 1_700_000_000_000


EVENT = event("u1", "view", NOW, event_id="e1")


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"user_id": ""}, MissingUserIdError),
        ({"user_id": " \t\u2003"}, MissingUserIdError),
        ({"event_id": ""}, MissingFieldError),
        ({"type": ""}, MissingFieldError),
        ({"event_time_ms": 5}, AbsurdTimestampError),
        ({"event_time_ms": NOW + MAX_FUTURE_MS + 1}, AbsurdTimestampError),
        ({"price": -0.01}, ValidationError),
        ({"price": math.nan}, ValidationError),
        ({"price": math.inf}, ValidationError),
        ({"quantity": -1}, ValidationError),
    ],
)
def test_bad_events_raise_what_they_raised(kw: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        validate(replace(EVENT, **kw), now_ms=NOW)


@pytest.mark.parametrize(
    "kw",
    [{}, {"price": 0.0}, {"price": 3}, {"quantity": 0}, {"event_time_ms": NOW + MAX_FUTURE_MS}, {"user_id": " u "}],
)
def test_good_events_pass(kw: dict[str, object]) -> None:
    validate(replace(EVENT, **kw), now_ms=NOW)
    validate(replace(EVENT, **kw))
