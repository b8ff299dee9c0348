"""Error policy per FCM code and the backoff schedule."""

from __future__ import annotations

import random

import pytest

from connectors.delivery.verdicts import Verdict, backoff_ms, verdict


@pytest.mark.parametrize(
    ("ok", "code", "expected"),
    [
        (True, None, Verdict.SENT),
        (False, "UNREGISTERED", Verdict.TOKEN_GONE),
        (False, "INVALID_TOKEN", Verdict.TOKEN_GONE),
        (False, "UNAVAILABLE", Verdict.RETRY),
        (False, "INTERNAL", Verdict.RETRY),
        (False, "QUOTA_EXCEEDED", Verdict.RETRY),
        (False, "INVALID_ARGUMENT", Verdict.FATAL),
        (False, "SENDER_ID_MISMATCH", Verdict.FATAL),
        (False, "THIRD_PARTY_AUTH_ERROR", Verdict.FATAL),
        (False, "SOMETHING_NEW", Verdict.RETRY),
        (False, None, Verdict.RETRY),
    ],
)
def test_verdicts(ok: bool, code: str | None, expected: Verdict) -> None:
    assert verdict(ok, code) is expected


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 100), (2, 200), (3, 400), (10, 1_000)]:
        delays = [backoff_ms(attempt, 100, 1_000, None, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8 and min(delays) < ceiling * 0.2  # jitter spreads over the range


def test_backoff_never_sooner_than_retry_after() -> None:
    rng = random.Random(1)
    assert all(backoff_ms(1, 100, 1_000, 30.0, rng) == 30_000 for _ in range(50))
