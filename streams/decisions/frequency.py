"""Frequency control: global per-user budget, minimum gap, user's weekly choice, per-trigger caps."""

from __future__ import annotations

from dataclasses import dataclass, replace

from streams.decisions.config import WEEK_MS, Budget, Cap, TriggerPolicy
from streams.decisions.model import DecisionState, Sent


@dataclass(frozen=True, slots=True)
class CapCheck:
    """None reason = send now; otherwise the tightest cap and when it frees up."""

    reason: str | None = None
    free_at_ms: int = 0


def _cap_free_at(times: list[int], cap: Cap, now_ms: int) -> int | None:
    """When a rolling cap admits one more send, or None when it admits one now."""
    inside = sorted(t for t in times if t > now_ms - cap.window_ms)
    if len(inside) < cap.max_count:
        return None
    return inside[len(inside) - cap.max_count] + cap.window_ms


def reeligible(state: DecisionState, policy: TriggerPolicy, now_ms: int) -> bool:
    """Whether the trigger may reach this user again (e.g. a welcome push only once a month)."""
    last = state.last_sent_by_trigger.get(policy.trigger_id)
    return last is None or policy.reeligible_after_ms is None or now_ms - last >= policy.reeligible_after_ms


def check_caps(
    state: DecisionState,
    trigger_id: str,
    trigger_cap: Cap | None,
    budget: Budget,
    max_per_week: int | None,
    now_ms: int,
) -> CapCheck:
    """Check every cap; the reason reported is the one that frees up last."""
    counted = [s.at_ms for s in state.sent if s.counted]
    limits: list[tuple[str, int | None]] = []
    if counted and budget.min_gap_ms:
        last = max(counted)
        limits.append(("min_gap", last + budget.min_gap_ms if now_ms - last < budget.min_gap_ms else None))
    limits.append(("global_cap", _cap_free_at(counted, budget.cap, now_ms)))
    if max_per_week is not None:
        week = Cap(max(max_per_week, 0), WEEK_MS)
        limits.append(("user_frequency", _cap_free_at(counted, week, now_ms) if week.max_count else now_ms + WEEK_MS))
    if trigger_cap is not None:
        mine = [s.at_ms for s in state.sent if s.trigger_id == trigger_id]
        limits.append(("trigger_cap", _cap_free_at(mine, trigger_cap, now_ms)))
    blocked = [(free_at, reason) for reason, free_at in limits if free_at is not None]
    if not blocked:
        return CapCheck()
    free_at, reason = max(blocked)
    return CapCheck(reason, free_at)


def record_send(state: DecisionState, trigger_id: str, counted: bool, now_ms: int, horizon_ms: int) -> DecisionState:
    """Remember a send, forgetting sends no cap can see any more."""
    recent = tuple(s for s in state.sent if s.at_ms > now_ms - horizon_ms)
    sent = (*recent, Sent(now_ms, trigger_id, counted))
    last = {**state.last_sent_by_trigger, trigger_id: now_ms}
    return replace(state, sent=sent, last_sent_by_trigger=last)
