"""Event filters and audience conditions, evaluated against events and user state."""

from __future__ import annotations

from typing import Any, Protocol

from streams.engine.config import Condition, Match
from streams.engine.state import DAY_MS, UserState


class EventLike(Protocol):
    """The fields of a BehaviorEvent the engine reads."""

    event_id: str
    user_id: str
    type: str
    event_time_ms: int
    item_id: str | None
    category: str | None
    creator: str | None
    price: float | None
    cart_id: str | None
    properties: dict[str, Any]


def event_field(event: EventLike, name: str) -> Any:
    """Read a top-level field, else a property."""
    if name != "properties" and hasattr(event, name):
        return getattr(event, name)
    return (event.properties or {}).get(name)


def holds(cond: Condition, value: Any) -> bool:
    """Whether `value` satisfies one condition; a missing value satisfies only `ne`."""
    if cond.op == "ne":
        return value != cond.value
    if value is None:
        return False
    if cond.op == "eq":
        return bool(value == cond.value)
    if cond.op == "in":
        return value in cond.value
    try:
        if cond.op == "gt":
            return bool(value > cond.value)
        if cond.op == "gte":
            return bool(value >= cond.value)
        if cond.op == "lt":
            return bool(value < cond.value)
        return bool(value <= cond.value)
    except TypeError:
        return False


def matches(match: Match, event: EventLike) -> bool:
    """Whether the event has one of the types (any when none) and passes every condition."""
    if match.types and event.type not in match.types:
        return False
    if not match.where:
        return True
    return all(holds(c, event_field(event, c.field)) for c in match.where)


def audience_value(state: UserState, name: str, now_ms: int) -> Any:
    """Resolve an audience field: profile fields, `attributes.X`, or behavioural aggregates."""
    if name.startswith("attributes."):
        return (state.profile.get("attributes") or {}).get(name.split(".", 1)[1])
    if name == "signup_age":
        signup = state.profile.get("signup_ms")
        return None if signup is None else now_ms - signup
    if name == "inactive_for":
        return None if state.last_ms is None else now_ms - state.last_ms
    if name == "active_days_30d":
        today = now_ms // DAY_MS
        return sum(1 for d in state.active_days if today - d < 30)
    if name in ("purchases", "spend", "events"):
        return getattr(state, name)
    return state.profile.get(name)


def in_audience(conditions: tuple[Condition, ...], state: UserState, now_ms: int) -> bool:
    """Whether the user belongs to the trigger's audience right now."""
    return all(holds(c, audience_value(state, c.field, now_ms)) for c in conditions)
