"""A user's two records in the partition store: the engine state (with what the lane mirrors of the decision
side, so an event needs only this one), and the decision side."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from schemas.codec import from_json, to_json
from schemas.records import UserProfile
from streams.decisions import Candidate, DecisionState
from streams.engine.errors import StateError
from streams.engine.state import UserState, dump_json, load_json

Saved = tuple[int | None, int | None]  # the timer index entries the store holds for the user: engine due, decision due
NOTHING_SAVED: Saved = (None, None)
# A stored user is MessagePack: [decision due, watch until, the state's fields in order, the engine due its timer
# index entry holds]. Records written before it are text ("<due>|<watch>|<state JSON>", first byte a digit or "-",
# their index entry at the state's due) and still load; so does a state MessagePack cannot carry (an int past 64
# bits), written that way.
_PACK = msgspec.msgpack.Encoder()
_UNPACK = msgspec.msgpack.Decoder(tuple[int | None, int, UserState, int | None])
_TEXT_START = frozenset(b"-0123456789")


@dataclass(slots=True)
class UserRecord:
    """The engine state of one user, the lane's mirror of its side, and its place in the store's indexes."""

    user_id: str
    state: UserState
    decision_due: int | None = None  # the side's earliest decision timer: whether an event can cancel anything
    watch_until: int = 0  # this user's events up to this event time can still change an attribution count
    tastes: set[str] = field(default_factory=set)  # affinity keys over the fan-out bar ("c:shoes", "r:acme")
    items: set[str] = field(default_factory=set)  # item ids the fan-out index lists the user under now
    # The timer index entries the store holds. The engine's may be earlier than the state's due (an event that
    # pushes a deadline later leaves it: a tick that reaches it moves it then), never later.
    saved: Saved = NOTHING_SAVED
    # Fan-out keys gained (True) or lost (False) since the last checkpoint; None: none.
    fan_changes: dict[str, bool] | None = None
    pushed_due: int | None = None  # the engine due last handed to the index (no push when it did not move)
    index_passed: bool = False  # a tick passed the store's engine entry, which is earlier than the due: move it

    def fans_changed(self, key: str, present: bool) -> None:
        """Note that the user now is (or no longer is) listed under the fan-out `key`, for the checkpoint."""
        changes = self.fan_changes
        if changes is None:
            changes = self.fan_changes = {}
        changes[key] = present

    def encode(self) -> bytes:
        try:
            return _PACK.encode((self.decision_due, self.watch_until, self.state, self.saved[0]))
        except OverflowError:
            due = -1 if self.decision_due is None else self.decision_due
            return b"%d|%d|%b" % (due, self.watch_until, self.state.to_bytes())

    @classmethod
    def decode(cls, user_id: str, raw: bytes, min_affinity: float | None) -> UserRecord:
        """Read a stored record; `min_affinity`: the fan-out bar (None: no fan-out index kept)."""
        if raw[0] in _TEXT_START:
            due, watch, body = raw.split(b"|", 2)
            state = UserState.from_bytes(body)
            decision_due = None if int(due) < 0 else int(due)
            indexed = state.next_due()
        else:
            try:
                decision_due, watch, state, indexed = _UNPACK.decode(raw)
            except msgspec.DecodeError as exc:
                raise StateError(f"bad stored user {user_id!r}: {exc}") from exc
        tastes: set[str] = set()
        items: set[str] = set()
        if min_affinity is not None:
            tastes = {k for k, v in state.affinity.items() if v[0] >= min_affinity}
            items = set(state.recent_items)
        record = cls(user_id, state, decision_due, int(watch), tastes, items, (indexed, decision_due))
        record.pushed_due = state.next_due()
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
