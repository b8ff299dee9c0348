"""A user's two records in the partition store: the engine state (with what the lane mirrors of the decision
side, so an event needs only this one), and the decision side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.codec import from_json, to_json
from schemas.records import UserProfile
from streams.decisions import Candidate, DecisionState
from streams.engine.state import UserState, dump_json, load_json

Saved = tuple[int | None, int | None]  # the timer index entries the store holds for the user: engine due, decision due
NOTHING_SAVED: Saved = (None, None)


@dataclass(slots=True)
class UserRecord:
    """The engine state of one user, the lane's mirror of its side, and its place in the store's indexes."""

    user_id: str
    state: UserState
    decision_due: int | None = None  # the side's earliest decision timer: whether an event can cancel anything
    watch_until: int = 0  # this user's events up to this event time can still change an attribution count
    tastes: set[str] = field(default_factory=set)  # affinity keys over the fan-out bar ("c:shoes", "r:acme")
    items: set[str] = field(default_factory=set)  # item ids the fan-out index lists the user under now
    saved: Saved = NOTHING_SAVED
    # The fan-out keys the store lists the user under, kept only once tastes or items differ from them (None: the
    # same as now). Most records never change them between two checkpoints and keep no copy.
    stored_fans: frozenset[str] | None = None
    pushed_due: int | None = None  # the engine due last handed to the index (no push when it did not move)

    def fan_keys(self) -> frozenset[str]:
        """Every fan-out key the user belongs under now (items as "i:<item>")."""
        return frozenset(self.tastes) | {f"i:{item}" for item in self.items}

    def before_fans_change(self) -> None:
        """Call before changing tastes or items: keeps the keys the store lists, for the checkpoint's diff."""
        if self.stored_fans is None:
            self.stored_fans = self.fan_keys()

    def encode(self) -> bytes:
        due = -1 if self.decision_due is None else self.decision_due
        return b"%d|%d|%b" % (due, self.watch_until, self.state.to_bytes())

    @classmethod
    def decode(cls, user_id: str, raw: bytes, min_affinity: float | None) -> UserRecord:
        """Read a stored record; `min_affinity`: the fan-out bar (None: no fan-out index kept)."""
        due, watch, body = raw.split(b"|", 2)
        state = UserState.from_bytes(body)
        decision_due = None if int(due) < 0 else int(due)
        tastes: set[str] = set()
        items: set[str] = set()
        if min_affinity is not None:
            tastes = {k for k, v in state.affinity.items() if v[0] >= min_affinity}
            items = set(state.recent_items)
        record = cls(user_id, state, decision_due, int(watch), tastes, items)
        engine_due = state.next_due()
        record.saved = (engine_due, decision_due)
        record.pushed_due = engine_due
        return record


@dataclass(slots=True)
class Side:
    """What the decision layer keeps per user beside the engine state: its state, the profile, its timers."""

    decisions: DecisionState = field(default_factory=DecisionState)
    profile: UserProfile | None = None
    timers: dict[str, int] = field(default_factory=dict)  # decision timer key -> due, from TimerRequests
    awaiting: list[Candidate] = field(default_factory=list)  # firings decided once the profile is read

    def next_due(self) -> int | None:
        return min(self.timers.values(), default=None)

    def to_bytes(self) -> bytes:
        data: dict[str, Any] = {"d": self.decisions.to_dict(), "t": self.timers}
        if self.profile is not None:
            data["p"] = to_json(self.profile)
        if self.awaiting:
            data["a"] = [f.to_dict() for f in self.awaiting]
        return dump_json(data)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Side:
        if not raw:
            return cls()
        data = load_json(raw)
        profile = from_json(UserProfile, data["p"]) if "p" in data else None
        timers = {k: int(v) for k, v in data.get("t", {}).items()}
        awaiting = [Candidate.from_dict(f) for f in data.get("a", [])]
        return cls(DecisionState.from_dict(data.get("d")), profile, timers, awaiting)
