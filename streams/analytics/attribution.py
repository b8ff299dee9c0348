"""Per-user attribution: decisions, deliveries and feedback events -> funnel counts per job's window."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.records import BehaviorEvent, DeliveryResult, NotificationDecision
from streams.analytics.errors import BadStateError

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
OPENED = "notification_opened"
CLICKED = "notification_clicked"
HOLDOUT = "holdout"

# Bit flags of a touch (one notification, or one held-out firing, of one user).
_HOLDOUT, _SENT, _DELIVERED, _OPENED, _CLICKED, _CONVERTED, _RETAINED, _CLOSED = (1 << i for i in range(8))
_UNDECIDED = 1 << 8  # made by a delivery result read before its decision: "fired" is still to count


@dataclass(frozen=True, slots=True)
class AnalyticsConfig:
    """Windows and goals of the attribution; per-trigger overrides fall back to the defaults."""

    window_ms: int = DAY_MS  # tumbling event-time windows the counts are grouped by
    conversion_window_ms: int = DAY_MS
    conversion_windows: dict[str, int] = field(default_factory=lambda: {"cart_abandoned": DAY_MS})
    conversion_types: tuple[str, ...] = ("purchase",)
    # returning to the app is the goal of a re-engagement push, buying is the goal of the rest
    trigger_conversion_types: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"reengage": ("app_open", "purchase"), "daily_streak": ("app_open",)}
    )
    retention_ms: int = 3 * DAY_MS
    activity_types: tuple[str, ...] = ("app_open", "view", "cart", "fav", "purchase")
    max_touches: int = 64  # bounds one user's state; the oldest touch goes first
    # Event types that can change a count whatever their job id (goals and activity), derived once.
    relevant_types: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        goals = {t for types in self.trigger_conversion_types.values() for t in types}
        object.__setattr__(self, "relevant_types", frozenset({*self.activity_types, *self.conversion_types, *goals}))

    def relevant(self, event: BehaviorEvent) -> bool:
        """Whether an event can change a count: feedback carrying a job id, a goal or activity."""
        return event.job_id is not None or event.type in self.relevant_types

    def window_of(self, trigger_id: str) -> int:
        """Conversion window of a trigger."""
        return self.conversion_windows.get(trigger_id, self.conversion_window_ms)

    def goals_of(self, trigger_id: str) -> tuple[str, ...]:
        """Event types that count as a conversion for a trigger."""
        return self.trigger_conversion_types.get(trigger_id, self.conversion_types)

    def horizon_ms(self) -> int:
        """How long a touch can still change a count."""
        return max([self.retention_ms, self.conversion_window_ms, *self.conversion_windows.values()])

    def window_start(self, at_ms: int) -> int:
        """Start of the tumbling window holding `at_ms`."""
        return at_ms - at_ms % self.window_ms


@dataclass(frozen=True, slots=True)
class Count:
    """+1 on one counter of one trigger x variant x window (reason only for suppressions)."""

    trigger_id: str
    variant: str
    window_start_ms: int
    name: str
    reason: str | None = None


@dataclass(slots=True)
class Touch:
    """What happened to one job (or held-out firing) of the user so far."""

    job_id: str
    trigger_id: str
    variant: str
    window_start_ms: int
    at_ms: int  # when the push went out (or was held back): attribution counts from here
    flags: int = 0

    def has(self, flag: int) -> bool:
        return bool(self.flags & flag)

    def to_list(self) -> list[Any]:
        return [self.job_id, self.trigger_id, self.variant, self.window_start_ms, self.at_ms, self.flags]


@dataclass(slots=True)
class UserAttribution:
    """One user's recent touches keyed by job id; serialisable for a Faust table."""

    touches: dict[str, Touch] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"t": [t.to_list() for t in self.touches.values()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserAttribution:
        try:
            touches = [Touch(str(j), str(tr), str(v), int(w), int(a), int(f)) for j, tr, v, w, a, f in data["t"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise BadStateError(f"bad attribution state: {exc}") from exc
        return cls({t.job_id: t for t in touches})


def _count(t: Touch, name: str, reason: str | None = None) -> Count:
    return Count(t.trigger_id, t.variant, t.window_start_ms, name, reason)


def _mark(t: Touch, flag: int, name: str, out: list[Count]) -> None:
    if not t.has(flag):
        t.flags |= flag
        out.append(_count(t, name))


def _new(state: UserAttribution, job_id: str, trigger_id: str, variant: str, at_ms: int, cfg: AnalyticsConfig) -> Touch:
    t = Touch(job_id, trigger_id, variant, cfg.window_start(at_ms), at_ms)
    state.touches[job_id] = t
    if len(state.touches) > cfg.max_touches:
        oldest = min(state.touches.values(), key=lambda x: x.at_ms)
        del state.touches[oldest.job_id]
    return t


def on_decision(state: UserAttribution, d: NotificationDecision, cfg: AnalyticsConfig) -> list[Count]:
    """Count a decision: fired once per job, then its outcome."""
    out: list[Count] = []
    t = state.touches.get(d.job_id)
    if t is None:
        variant = d.variant or ("holdout" if d.outcome == HOLDOUT else "default")
        t = _new(state, d.job_id, d.trigger_id, variant, d.event_time_ms, cfg)
        out.append(_count(t, "fired"))
    elif t.has(_UNDECIDED):  # its delivery came first (another topic): the firing counts now, once
        t.flags &= ~_UNDECIDED
        out.append(_count(t, "fired"))
    if t.has(_CLOSED):
        return out
    if d.outcome == HOLDOUT:
        t.at_ms = d.event_time_ms
        t.flags |= _HOLDOUT
        _mark(t, _CLOSED, "holdout", out)
    elif d.outcome == "queued":
        t.at_ms = d.event_time_ms
        _mark(t, _SENT, "sent", out)
        t.flags |= _CLOSED
    elif d.outcome == "suppressed":
        t.flags |= _CLOSED
        out.append(_count(t, "suppressed", d.reason or "unknown"))
    elif d.outcome in ("expired", "cancelled"):
        t.flags |= _CLOSED
        out.append(_count(t, "suppressed", f"{d.outcome}:{d.reason or 'unknown'}"))
    return out


def on_delivery(state: UserAttribution, r: DeliveryResult, cfg: AnalyticsConfig) -> list[Count]:
    """Count a provider's acceptance once per job."""
    if r.status != "sent":
        return []
    t = state.touches.get(r.job_id)
    if t is None:  # delivery read before the decision: the job still counts from its send time
        t = _new(state, r.job_id, r.trigger_id, r.variant or "default", r.at_ms, cfg)
        t.flags |= _UNDECIDED
    out: list[Count] = []
    _mark(t, _DELIVERED, "delivered", out)
    return out


def on_event(state: UserAttribution, e: BehaviorEvent, cfg: AnalyticsConfig) -> list[Count]:
    """Attribute feedback by job id, a conversion to each trigger's last touch in its window, and retention."""
    out: list[Count] = []
    now = e.event_time_ms
    if e.type in (OPENED, CLICKED):
        t = state.touches.get(e.job_id or "")
        if t is not None and not t.has(_HOLDOUT):
            _mark(t, _OPENED, "opened", out)
            if e.type == CLICKED:
                _mark(t, _CLICKED, "clicked", out)
        return out
    live = [t for t in state.touches.values() if t.has(_HOLDOUT) or t.has(_SENT) or t.has(_DELIVERED)]
    candidates = [
        t
        for t in live
        if e.type in cfg.goals_of(t.trigger_id) and t.at_ms <= now <= t.at_ms + cfg.window_of(t.trigger_id)
    ]
    # Each trigger's experiment sees every conversion after its own touch: the last touch of each trigger in its
    # window converts. (Last touch across triggers would hand a cart reminder's purchase to whatever price-drop
    # push came after it, while its held-out users keep theirs: the lift would be measured against the wrong base.)
    last: dict[str, Touch] = {}
    for t in candidates:
        best = last.get(t.trigger_id)
        if best is None or (t.at_ms, t.job_id) > (best.at_ms, best.job_id):
            last[t.trigger_id] = t
    for t in sorted(last.values(), key=lambda t: (t.at_ms, t.job_id)):
        _mark(t, _CONVERTED, "converted", out)
    if e.type in cfg.activity_types:
        for t in live:
            if t.at_ms < now <= t.at_ms + cfg.retention_ms:
                _mark(t, _RETAINED, "retained", out)
    return out


def attribute(state: UserAttribution, record: object, cfg: AnalyticsConfig) -> list[Count]:
    """Apply any of the three inputs (decision, delivery result, behaviour event) to one user's state."""
    if isinstance(record, NotificationDecision):
        return on_decision(state, record, cfg)
    if isinstance(record, DeliveryResult):
        return on_delivery(state, record, cfg)
    if isinstance(record, BehaviorEvent):
        return on_event(state, record, cfg)
    raise TypeError(f"cannot attribute a {type(record).__name__}")


def prune(state: UserAttribution, now_ms: int, cfg: AnalyticsConfig) -> int:
    """Drop touches nothing can change any more; returns how many went."""
    horizon = cfg.horizon_ms()
    old = [j for j, t in state.touches.items() if t.at_ms + horizon < now_ms]
    for job_id in old:
        del state.touches[job_id]
    return len(old)
