"""One partition's trigger engine plus decision layer: firings, deferred-job timers and cancellations; pure."""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from schemas.codec import from_json, to_json
from schemas.records import BehaviorEvent, CatalogItem, NotificationDecision, NotificationJob, UserProfile
from streams.decisions import DecisionConfig, DecisionState, Outcome, cancel, decide, on_timer
from streams.decisions import Firing as DecisionFiring
from streams.engine.clock import StreamClock
from streams.engine.engine import Engine
from streams.engine.firing import Firing
from streams.engine.partition import PartitionProcessor
from streams.engine.state import UserState
from streams.engine.timers import TimerIndex
from streams.pipeline.catalog_view import CatalogView
from streams.pipeline.firings import Policy, cancels, keys_to_cancel, to_decision
from streams.pipeline.personalise import personalise

# Order of things that happen at the same event time: a deferred job due then is sent before the
# event's cancellation applies (half-open windows), and the cancellation before the event's own firings.
_TIMER, _CANCEL, _FIRING = 0, 1, 2
# Decisions whose user attribution then follows: a push that went out, or a firing held back for the control.
WATCHED_OUTCOMES = frozenset({"queued", "holdout"})
PRUNE_EVERY_MS = 3_600_000  # expired watches are dropped once per hour of stream time
# Decision timer keys of firings waiting for the user's profile (a signup decided before its profile is read).
AWAIT_PROFILE = "profile|"
MAX_AWAITING = 4  # firings one user can have waiting for a profile; more are decided without it


@dataclass(slots=True)
class Side:
    """What the decision layer keeps per user beside the engine state: its state, the profile, its timers."""

    decisions: DecisionState = field(default_factory=DecisionState)
    profile: UserProfile | None = None
    timers: dict[str, int] = field(default_factory=dict)  # decision timer key -> due, from TimerRequests
    watch_until_ms: int = 0  # this user's events up to this event time can still change an attribution count
    awaiting: list[DecisionFiring] = field(default_factory=list)  # firings decided once the profile is read

    def next_due(self) -> int | None:
        return min(self.timers.values(), default=None)

    def to_bytes(self) -> bytes:
        data: dict[str, Any] = {"d": self.decisions.to_dict(), "t": self.timers}
        if self.profile is not None:
            data["p"] = to_json(self.profile)
        if self.watch_until_ms:
            data["w"] = self.watch_until_ms
        if self.awaiting:
            data["a"] = [f.to_dict() for f in self.awaiting]
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Side:
        if not raw:
            return cls()
        data = json.loads(raw)
        profile = from_json(UserProfile, data["p"]) if "p" in data else None
        timers = {k: int(v) for k, v in data.get("t", {}).items()}
        awaiting = [DecisionFiring.from_dict(f) for f in data.get("a", [])]
        return cls(DecisionState.from_dict(data.get("d")), profile, timers, int(data.get("w", 0)), awaiting)


@dataclass(slots=True)
class Result:
    """What one input produced: engine firings (for metrics), decisions and jobs to publish."""

    firings: list[Firing] = field(default_factory=list)
    decisions: list[NotificationDecision] = field(default_factory=list)
    jobs: list[NotificationJob] = field(default_factory=list)


class Lane:
    """Engine + decisions for one partition; the caller persists `take_dirty()` and rebuilds after recovery."""

    def __init__(
        self,
        engine: Engine,
        config: DecisionConfig,
        policies: dict[str, Policy],
        load_state: Callable[[str], UserState | None],
        load_side: Callable[[str], Side | None],
        clock: StreamClock,
        watch_horizon_ms: int | None = None,
        load_catalog: Callable[[str], bytes | None] = lambda key: None,
    ) -> None:
        """`watch_horizon_ms`: how long after a push (or holdout) the user's events can still change an
        attribution count; None = no watch kept (every event is wanted, or attribution is off)."""
        self.engine = engine
        self.config = config
        self.policies = policies
        self.load_side = load_side
        self.proc = PartitionProcessor(engine, load_state, clock)
        self.catalog = CatalogView(load_catalog)
        self.timers = TimerIndex()  # users by their earliest decision timer (deferred jobs)
        self.waiting: set[str] = set()  # users with a decision timer: the only ones a cancellation can hit
        self.sides: dict[str, Side] = {}  # changed since the last take_dirty
        self.cancellers = [t for t in engine.catalogue.triggers if t.kind in ("absence", "sequence", "inactivity")]
        self.watch_horizon_ms = watch_horizon_ms
        self.watched: dict[str, int] = {}  # user -> Side.watch_until_ms, for users pushed or held out lately
        self._pruned_ms = 0  # stream time of the last scan for expired watches

    @property
    def clock(self) -> StreamClock:
        return self.proc.clock

    def timer_count(self) -> int:
        """Users with an engine or a decision timer pending in this partition."""
        return len(self.proc.timers) + len(self.timers)

    def rebuild(self, states: Iterable[UserState], sides: Iterable[tuple[str, Side]]) -> None:
        """Rebuild the engine and decision indexes from stored states and sides."""
        self.proc.rebuild(states)
        for user_id, side in sides:
            self._index(user_id, side)
            if side.watch_until_ms:
                self.watched[user_id] = side.watch_until_ms

    def side(self, user_id: str) -> Side:
        side = self.sides.get(user_id)
        if side is None:
            side = self.load_side(user_id) or Side()
        return side

    def watches(self, user_id: str, at_ms: int) -> bool:
        """Whether an event of this user at `at_ms` can still change an attribution count: a push or holdout
        decided here is at most the watch horizon older (decisions only come from the user's own lane).
        Without a horizon every event is wanted."""
        if self.watch_horizon_ms is None:
            return True
        until = self.watched.get(user_id)
        return until is not None and at_ms <= until

    def on_event(self, event: BehaviorEvent) -> Result:
        firings = self.proc.on_event(event)
        wanted = cancels(self.cancellers, event) if event.user_id in self.waiting else []
        return self._settle(firings, self.clock.now_ms, (event.user_id, event.event_time_ms, event.type, wanted))

    def on_profile(self, profile: UserProfile) -> Result:
        side = self.side(profile.user_id)
        side.profile = profile
        self.sides[profile.user_id] = side
        result = self._settle(self.proc.on_profile(profile), self.clock.now_ms, None)
        for firing in side.awaiting:  # the profile they waited for is here: decide them as of their own time
            side.timers.pop(AWAIT_PROFILE + firing.firing_id, None)
            self._apply(profile.user_id, side, decide(firing, profile, side.decisions, self.config,
                                                      firing.event_time_ms), result)  # fmt: skip
        side.awaiting = []
        self._index(profile.user_id, side)
        return result

    def on_catalog(self, item: CatalogItem) -> Result:
        known = self.catalog.apply(item)  # this partition's copy of the catalogue first, then who cares
        shown = {k: v for k, v in known.shown().items() if k != "item_id"}
        return self._settle(self.proc.on_catalog(replace(item, **shown)), self.clock.now_ms, None)

    def on_wall_clock(self, wall_ms: int) -> Result:
        return self._settle(self.proc.on_wall_clock(wall_ms), self.clock.now_ms, None)

    def take_dirty(self) -> dict[str, tuple[UserState | None, Side | None]]:
        """Changed users since the last call: (engine state or None if unchanged, side or None if unchanged)."""
        states = self.proc.take_dirty()
        sides, self.sides = self.sides, {}
        now = self.clock.now_ms
        if self.watched and now - self._pruned_ms >= PRUNE_EVERY_MS:  # a scan of every watch, not on every flush
            self._pruned_ms = now  # forget watches the stream has passed (a later late event is not attributed)
            for user_id in [u for u, until in self.watched.items() if until < now]:
                del self.watched[user_id]
        return {u: (states.get(u), sides.get(u)) for u in states.keys() | sides.keys()}

    def _settle(self, firings: list[Firing], stream_ms: int, own: tuple[str, int, str, list[str]] | None) -> Result:
        """Decide firings, fire decision timers and apply a cancellation, all in event-time order."""
        result = Result(firings=firings)
        if not firings and (own is None or own[0] not in self.waiting):
            due = self.timers.next_due()
            if due is None or due > stream_ms:
                return result  # the common case: nothing fired, nothing due, nothing to cancel
        queue: list[tuple[int, int, int, Any]] = [(f.at_ms, _FIRING, i, f) for i, f in enumerate(firings)]
        if own is not None and own[3]:
            queue.append((own[1], _CANCEL, -1, own))
        heapq.heapify(queue)
        while True:
            timer = self._next_timer(stream_ms, own)
            if timer is not None and (not queue or (timer[0], _TIMER) <= queue[0][:2]):
                self._fire_timer(timer[1], result)
                continue
            if not queue:
                return result
            at, rank, _, item = heapq.heappop(queue)
            if rank == _CANCEL:
                self._cancel(item[0], item[3], item[2], at, result)
            else:
                self._decide(item, result)

    def _next_timer(self, stream_ms: int, own: tuple[str, int, str, list[str]] | None) -> tuple[int, str] | None:
        """The earliest due decision timer: any user's up to stream time, the event's user's up to its event time."""
        best = None
        due = self.timers.next_due()
        if due is not None and due <= stream_ms:
            first, *rest = self.timers.pop_due(due)
            for user_id in rest:
                self.timers.set(user_id, due)  # one at a time: firing one user's timer may not move another's
            best = (due, first)
        if own is not None and own[0] in self.waiting:
            mine = self.side(own[0]).next_due()
            if mine is not None and mine <= own[1] and (best is None or mine < best[0]):
                if best is not None:
                    self.timers.set(best[1], best[0])  # not this one's turn yet
                best = (mine, own[0])
        return best

    def _fire_timer(self, user_id: str, result: Result) -> None:
        side = self.side(user_id)
        if not side.timers:
            self._index(user_id, side)
            return
        key = min(side.timers, key=lambda k: (side.timers[k], k))
        due = side.timers.pop(key)
        if key.startswith(AWAIT_PROFILE):  # the wait for the profile is over: decide without it
            firing_id = key[len(AWAIT_PROFILE) :]
            for firing in [f for f in side.awaiting if f.firing_id == firing_id]:
                side.awaiting.remove(firing)
                out = decide(firing, side.profile, side.decisions, self.config, firing.event_time_ms)
                self._apply(user_id, side, out, result)
            self._index(user_id, side)
            return
        self._apply(user_id, side, on_timer(key, side.profile, side.decisions, self.config, due), result)

    def _decide(self, firing: Firing, result: Result) -> None:
        trigger = self.engine.triggers[firing.trigger_id]
        user_id = firing.user_id
        side = self.side(user_id)
        personal = personalise(firing, self.proc.state(user_id), self.catalog, self.engine.half_life_ms)
        df = to_decision(firing, trigger, self.policies.get(trigger.id, Policy()), personal)
        wait = self.config.policy(trigger.id).await_profile_ms
        if side.profile is None and wait and len(side.awaiting) < MAX_AWAITING:
            side.awaiting.append(df)  # a signup is often read before the profile that names the user
            side.timers[AWAIT_PROFILE + df.firing_id] = firing.at_ms + wait
            self.sides[user_id] = side
            self._index(user_id, side)
            return
        self._apply(user_id, side, decide(df, side.profile, side.decisions, self.config, firing.at_ms), result)

    def _cancel(self, user_id: str, wanted: list[str], reason: str, at_ms: int, result: Result) -> None:
        side = self.side(user_id)
        for key in keys_to_cancel(wanted, (p.firing.cancel_key for p in side.decisions.pending)):
            self._apply(user_id, side, cancel(key, side.decisions, at_ms, reason), result)

    def _apply(self, user_id: str, side: Side, out: Outcome, result: Result) -> None:
        side.decisions = out.state
        for request in out.timers:
            if request.action == "set":
                side.timers[request.key] = request.due_at_ms
            else:
                side.timers.pop(request.key, None)
        result.decisions.extend(out.decisions)
        result.jobs.extend(out.jobs)
        if self.watch_horizon_ms is not None:
            for decision in out.decisions:
                if decision.outcome in WATCHED_OUTCOMES:
                    until = decision.event_time_ms + self.watch_horizon_ms
                    if until > side.watch_until_ms:
                        side.watch_until_ms = self.watched[user_id] = until
        self.sides[user_id] = side
        self._index(user_id, side)

    def _index(self, user_id: str, side: Side) -> None:
        due = side.next_due()
        self.timers.set(user_id, due)
        if due is None:
            self.waiting.discard(user_id)
        else:
            self.waiting.add(user_id)
