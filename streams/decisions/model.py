"""Plain data the decision layer takes and returns: firings, per-user state, timer requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from schemas.records import NotificationDecision, NotificationJob


@dataclass(frozen=True, slots=True)
class Candidate:
    """A trigger that fired for one user: the engine's input to `decide`.

    `firing_id` is unique per trigger instance (e.g. "cart_abandoned:u1:cart-9"); job ids derive from it,
    so the same firing replayed gives the same job. `priority`: higher wins when the budget is short.
    `transactional`: bypasses frequency caps (never opt-outs). `max_delay_ms`: a deferred job expires
    `max_delay_ms` after `event_time_ms`. `cancel_key`: a later `cancel(cancel_key)` cancels the job while
    it is deferred (e.g. "cart:u1:cart-9"). `event`: the triggering event's fields (item_id, category,
    creator, price, currency, cart_id, title, image_url, properties...). `item`: the item the firing is about,
    filled in from the catalogue (item_id, title, image_url, price, previous_price, currency, deep_link...).
    `cart`: cart lines (dicts with item_id, title, price, currency, quantity, image_url...). `recommendations`:
    recommended items (dicts, the keys of `item`).
    """

    firing_id: str
    user_id: str
    trigger_id: str
    event_time_ms: int
    priority: int = 0
    transactional: bool = False
    max_delay_ms: int = 86_400_000
    cancel_key: str | None = None
    event: dict[str, Any] = field(default_factory=dict)
    cart: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[dict[str, Any]] = field(default_factory=list)
    item: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "firing_id": self.firing_id,
            "user_id": self.user_id,
            "trigger_id": self.trigger_id,
            "event_time_ms": self.event_time_ms,
            "priority": self.priority,
            "transactional": self.transactional,
            "max_delay_ms": self.max_delay_ms,
            "cancel_key": self.cancel_key,
            "event": dict(self.event),
            "cart": [dict(line) for line in self.cart],
            "recommendations": [dict(item) for item in self.recommendations],
            "item": dict(self.item),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class TimerRequest:
    """Ask the engine's durable timer index to set (or drop) a timer.

    On `action == "set"` the engine stores `key` due at `due_at_ms` and later calls
    `on_timer(key, ...)`; on `"cancel"` it removes `key` (a no-op when already gone).
    `cancel_key` groups timers that one business event cancels (a purchase cancels its cart's).
    """

    user_id: str
    key: str
    due_at_ms: int
    action: Literal["set", "cancel"] = "set"
    cancel_key: str | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """One job issued to a user: what the frequency caps count."""

    at_ms: int
    trigger_id: str
    counted: bool = True  # transactional sends do not spend the marketing budget


@dataclass(frozen=True, slots=True)
class Pending:
    """A deferred job waiting for its timer."""

    job_id: str
    firing: Candidate
    variant: str
    due_at_ms: int
    not_after_ms: int
    reason: str


@dataclass(frozen=True, slots=True)
class DecisionState:
    """Per-user decision state, kept in a table: recent sends, last send per trigger, deferred jobs."""

    sent: tuple[Sent, ...] = ()
    last_sent_by_trigger: dict[str, int] = field(default_factory=dict)
    pending: tuple[Pending, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form for a Faust table."""
        return {
            "sent": [[s.at_ms, s.trigger_id, s.counted] for s in self.sent],
            "last": dict(self.last_sent_by_trigger),
            "pending": [
                {
                    "job_id": p.job_id,
                    "firing": p.firing.to_dict(),
                    "variant": p.variant,
                    "due_at_ms": p.due_at_ms,
                    "not_after_ms": p.not_after_ms,
                    "reason": p.reason,
                }
                for p in self.pending
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DecisionState:
        if not data:
            return cls()
        return cls(
            sent=tuple(Sent(int(at), str(tid), bool(counted)) for at, tid, counted in data.get("sent", [])),
            last_sent_by_trigger={str(k): int(v) for k, v in data.get("last", {}).items()},
            pending=tuple(
                Pending(
                    job_id=p["job_id"],
                    firing=Candidate.from_dict(p["firing"]),
                    variant=p["variant"],
                    due_at_ms=int(p["due_at_ms"]),
                    not_after_ms=int(p["not_after_ms"]),
                    reason=p["reason"],
                )
                for p in data.get("pending", [])
            ),
        )


class Outcome(NamedTuple):
    """What a decision step returns; unpacks as (state, decisions, jobs, timers)."""

    state: DecisionState
    decisions: list[NotificationDecision]
    jobs: list[NotificationJob]
    timers: list[TimerRequest]
