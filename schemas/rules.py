"""Semantic checks beyond the Avro types: ids present, timestamps sane, enums known."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from schemas.errors import AbsurdTimestampError, MissingFieldError, MissingUserIdError, ValidationError
from schemas.records import (
    BehaviorEvent,
    CatalogItem,
    DeadLetter,
    DeliveryResult,
    DeviceToken,
    JobRetry,
    NotificationDecision,
    NotificationJob,
    UserProfile,
)

# Anything before 2000-01-01 is a seconds-vs-milliseconds mix-up or a zero default, not an event.
MIN_TIME_MS = 946_684_800_000
# Clocks drift and devices lie; more than a day ahead of the checker's clock is not a real time.
MAX_FUTURE_MS = 86_400_000

PLATFORMS = frozenset({"android", "ios", "web"})
CATALOG_KINDS = frozenset({"new_arrival", "back_in_stock", "price_drop", "update"})
PRIORITIES = frozenset({"normal", "high"})
OUTCOMES = frozenset({"fired", "queued", "deferred", "suppressed", "holdout", "cancelled", "expired"})
STATUSES = frozenset(
    {
        "sent",
        "failed",
        "invalid_token",
        "retry_scheduled",
        "expired",
        "deduplicated",
        "dead_lettered",
        "no_devices",
        "token_removed",
    }
)


def _user(record: Any) -> None:
    if not record.user_id or not record.user_id.strip():
        raise MissingUserIdError(f"{type(record).__name__}: user_id is empty")


def _present(record: Any, *names: str) -> None:
    for name in names:
        if not getattr(record, name):
            raise MissingFieldError(f"{type(record).__name__}: {name} is empty")


def _time(record: Any, name: str, now_ms: int | None) -> None:
    value = getattr(record, name)
    if value is None:
        return
    if value < MIN_TIME_MS:
        raise AbsurdTimestampError(
            f"{type(record).__name__}: {name}={value} is before 2000-01-01 (epoch milliseconds expected)"
        )
    if now_ms is not None and value > now_ms + MAX_FUTURE_MS:
        raise AbsurdTimestampError(f"{type(record).__name__}: {name}={value} is more than a day after now ({now_ms})")


def _one_of(record: Any, name: str, allowed: frozenset[str]) -> None:
    value = getattr(record, name)
    if value not in allowed:
        raise ValidationError(f"{type(record).__name__}: {name}={value!r} is not one of {sorted(allowed)}")


def _amount(record: Any, *names: str) -> None:
    for name in names:
        value = getattr(record, name)
        if value is not None and (not math.isfinite(value) or value < 0):
            raise ValidationError(f"{type(record).__name__}: {name}={value} must be a finite amount >= 0")


def _event(r: BehaviorEvent, now_ms: int | None) -> None:
    # The checks of _user, _present, _time and _amount inline (once per input event); the slow path
    # below raises the same errors in the same order.
    t, price = r.event_time_ms, r.price
    if (
        r.user_id
        and r.event_id
        and r.type
        and (t is None or (t >= MIN_TIME_MS and (now_ms is None or t <= now_ms + MAX_FUTURE_MS)))
        and (price is None or (price.__class__ is float and 0 <= price < math.inf))
        and (r.quantity is None or r.quantity >= 0)
        and not r.user_id.isspace()
    ):
        return
    _user(r)
    _present(r, "event_id", "type")
    _time(r, "event_time_ms", now_ms)
    _amount(r, "price")
    if r.quantity is not None and r.quantity < 0:
        raise ValidationError(f"BehaviorEvent: quantity={r.quantity} must be >= 0")


def _profile(r: UserProfile, now_ms: int | None) -> None:
    _user(r)
    _time(r, "updated_at_ms", now_ms)
    if r.max_per_week is not None and r.max_per_week < 0:
        raise ValidationError(f"UserProfile: max_per_week={r.max_per_week} must be >= 0")


def _device(r: DeviceToken, now_ms: int | None) -> None:
    _user(r)
    _present(r, "token")
    _one_of(r, "platform", PLATFORMS)
    _time(r, "updated_at_ms", now_ms)


def _catalog(r: CatalogItem, now_ms: int | None) -> None:
    _present(r, "item_id")
    _one_of(r, "kind", CATALOG_KINDS)
    _amount(r, "price", "previous_price")
    _time(r, "event_time_ms", now_ms)


def _job(r: NotificationJob, now_ms: int | None) -> None:
    _user(r)
    _present(r, "job_id", "firing_id", "trigger_id")
    _one_of(r, "priority", PRIORITIES)
    _time(r, "created_at_ms", now_ms)
    if r.ttl_seconds < 0:
        raise ValidationError(f"NotificationJob: ttl_seconds={r.ttl_seconds} must be >= 0")


def _decision(r: NotificationDecision, now_ms: int | None) -> None:
    _user(r)
    _present(r, "decision_id", "trigger_id")
    _one_of(r, "outcome", OUTCOMES)
    _time(r, "event_time_ms", now_ms)


def _delivery(r: DeliveryResult, now_ms: int | None) -> None:
    _user(r)
    _present(r, "job_id", "provider")
    _one_of(r, "status", STATUSES)
    _time(r, "at_ms", now_ms)


def _retry(r: JobRetry, now_ms: int | None) -> None:
    _job(r.job, now_ms)


def _dead_letter(r: DeadLetter, now_ms: int | None) -> None:
    _present(r, "source_topic", "error_kind")


RULES: dict[type, Callable[[Any, int | None], None]] = {
    BehaviorEvent: _event,
    UserProfile: _profile,
    DeviceToken: _device,
    CatalogItem: _catalog,
    NotificationJob: _job,
    NotificationDecision: _decision,
    DeliveryResult: _delivery,
    JobRetry: _retry,
    DeadLetter: _dead_letter,
}


def validate(record: Any, *, now_ms: int | None = None) -> None:
    """Raise ValidationError when `record` breaks a rule; `now_ms` enables the future-time check."""
    try:
        rule = RULES[type(record)]
    except KeyError:
        raise ValidationError(f"{type(record).__name__} is not a contract record") from None
    rule(record, now_ms)
