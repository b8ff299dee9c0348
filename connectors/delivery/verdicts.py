"""What to do with each provider answer, and how long to wait before the next attempt."""

from __future__ import annotations

import random
from enum import Enum


class Verdict(Enum):
    SENT = "sent"
    TOKEN_GONE = "token_gone"  # remove the token; the job itself is fine
    RETRY = "retry"  # transient: try again later through the retry topic
    FATAL = "fatal"  # our request or our credentials are wrong: DLQ and alert, never retry


# FCM errorCode (or platform code) -> verdict. Anything unknown is retried: a bounded number of
# attempts costs less than dropping a push on an error we have not seen before.
POLICY: dict[str, Verdict] = {
    "UNREGISTERED": Verdict.TOKEN_GONE,
    "INVALID_TOKEN": Verdict.TOKEN_GONE,
    "NOT_FOUND": Verdict.TOKEN_GONE,
    "UNAVAILABLE": Verdict.RETRY,
    "INTERNAL": Verdict.RETRY,
    "QUOTA_EXCEEDED": Verdict.RETRY,
    "UNKNOWN": Verdict.RETRY,
    "DEADLINE_EXCEEDED": Verdict.RETRY,
    "INVALID_ARGUMENT": Verdict.FATAL,
    "SENDER_ID_MISMATCH": Verdict.FATAL,
    "THIRD_PARTY_AUTH_ERROR": Verdict.FATAL,
    "APNS_AUTH_ERROR": Verdict.FATAL,
    "PERMISSION_DENIED": Verdict.FATAL,
    "UNAUTHENTICATED": Verdict.FATAL,
}


def verdict(ok: bool, error_code: str | None) -> Verdict:
    """Classify one answer."""
    if ok:
        return Verdict.SENT
    return POLICY.get(error_code or "UNKNOWN", Verdict.RETRY)


def backoff_ms(attempt: int, base_ms: int, cap_ms: int, retry_after_s: float | None, rng: random.Random) -> int:
    """Exponential backoff with full jitter, never sooner than the provider's Retry-After."""
    ceiling = min(cap_ms, base_ms * 2 ** max(attempt - 1, 0))
    delay = rng.uniform(0, ceiling)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s * 1000)
    return int(delay)
