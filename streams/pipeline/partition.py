"""One partition's runtime: the engine and the decision layer over the partition's store; pure.

Firings, the engine's and the decision layer's timers (one index in the store), catalogue fan-out (an index in
the store), deferred jobs and their cancellation, the wait for a profile. Timers fire after every event (not
once per batch), so the result does not depend on how a consumer batches the partition: replays are identical
on any number of workers.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace
from typing import Any

from schemas.records import BehaviorEvent, CatalogItem, NotificationDecision, NotificationJob, UserProfile
from streams.decisions import DecisionConfig, Outcome, cancel, decide, on_timer
from streams.engine.clock import StreamClock
from streams.engine.engine import Engine, affinity_keys
from streams.engine.firing import Firing
from streams.engine.state import MAX_AFFINITY
from streams.pipeline.catalog_view import CatalogView
from streams.pipeline.firings import Policy, cancels, keys_to_cancel, to_decision
from streams.pipeline.personalise import personalise
from streams.pipeline.records import Side, UserRecord
from streams.pipeline.store import PartitionStore
from streams.state.keys import CLOCK

# Order of things that happen at the same event time: a deferred job due then is sent before the
# event's cancellation applies (half-open windows), and the cancellation before the event's own firings.
_TIMER, _CANCEL, _FIRING = 0, 1, 2
# Decisions whose user attribution then follows: a push that went out, or a firing held back for the control.
WATCHED_OUTCOMES = frozenset({"queued", "holdout"})
# Decision timer keys of firings waiting for the user's profile (a signup decided before its profile is read).
AWAIT_PROFILE = "profile|"
MAX_AWAITING = 4  # firings one user can have waiting for a profile; more are decided without it
Own = tuple[str, int, str, list[str]]  # the event's user, time, type and the cancel keys it brings


@dataclass(slots=True)
class Result:
    """What one input produced: engine firings (for metrics), decisions and jobs to publish."""

    firings: list[Firing] = field(default_factory=list)
    decisions: list[NotificationDecision] = field(default_factory=list)
    jobs: list[NotificationJob] = field(default_factory=list)


class PartitionRuntime:
    """Engine + decisions for one partition; `checkpoint()` writes what changed to the store."""

    def __init__(
        self,
        engine: Engine,
        config: DecisionConfig,
        policies: dict[str, Policy],
        store: PartitionStore,
        clock: StreamClock,
        watch_horizon_ms: int | None = None,
    ) -> None:
        """`watch_horizon_ms`: how long after a push (or holdout) the user's events can still change an
        attribution count; None = no watch kept (every event is wanted, or attribution is off)."""
        self.engine = engine
        self.config = config
        self.policies = policies
        self.store = store
        self.clock = clock
        self.watch_horizon_ms = watch_horizon_ms
        self.catalog = CatalogView(store.get, store.put)
        self.cancellers = [t for t in engine.catalogue.triggers if t.kind in ("absence", "sequence", "inactivity")]
        self.late_events = 0
        saved = store.get(CLOCK)
        if saved is not None:
            clock.observe(int(saved) + clock.lateness)

    def timer_count(self) -> int:
        """Users with an engine or a decision timer in this partition, as of the last checkpoint."""
        return self.store.counts["engine"] + self.store.counts["decision"]

    def watches(self, user_id: str, at_ms: int) -> bool:
        """Whether an event of this user at `at_ms` can still change an attribution count: a push or holdout
        decided here is at most the watch horizon older. Without a horizon every event is wanted."""
        if self.watch_horizon_ms is None:
            return True
        return at_ms <= self.store.user(user_id).watch_until

    # --- inputs ------------------------------------------------------------------------------------------

    def on_event(self, event: BehaviorEvent) -> Result:
        """Apply one behaviour event, fire whatever the new stream time makes due, decide."""
        if self.clock.is_late(event.event_time_ms):
            self.late_events += 1
        now = self.clock.observe(event.event_time_ms)
        record = self.store.user(event.user_id)
        _, firings = self.engine.on_event(record.state, event, now)
        self._touch(record, event)
        firings += self._tick(now)
        if not firings and record.decision_due is None and self._nothing_due(now):
            return Result(firings)  # the common case: nothing fired, nothing due, nothing to cancel
        wanted = cancels(self.cancellers, event) if record.decision_due is not None else []
        return self._settle(firings, now, (event.user_id, event.event_time_ms, event.type, wanted))

    def on_profile(self, profile: UserProfile) -> Result:
        """Keep the profile (audiences, anniversaries, the copy) and decide what waited for it."""
        user_id = profile.user_id
        side = self.store.side(user_id)
        side.profile = profile
        self.store.side_changed(user_id, side)
        record = self.store.user(user_id)
        self.engine.on_profile(record.state, profile)
        self._touch(record)
        result = self._settle(self._tick(self.clock.now_ms), self.clock.now_ms, None)
        for firing in side.awaiting:  # the profile they waited for is here: decide them as of their own time
            side.timers.pop(AWAIT_PROFILE + firing.firing_id, None)
            self._apply(user_id, side, decide(firing, profile, side.decisions, self.config, firing.event_time_ms),
                        result)  # fmt: skip
        side.awaiting = []
        self.store.side_changed(user_id, side)
        return result

    def on_catalog(self, item: CatalogItem) -> Result:
        """This partition's copy of the catalogue first, then the fans the index lists for it (no scan)."""
        known = self.catalog.apply(item)
        shown = {k: v for k, v in known.shown().items() if k != "item_id"}
        item = replace(item, **shown)
        keys = [f"i:{item.item_id}"]
        if item.category is not None:
            keys.append(f"c:{item.category}")
        if item.creator is not None:
            keys.append(f"r:{item.creator}")
        now = max(self.clock.now_ms, item.event_time_ms)
        firings: list[Firing] = []
        for user_id in sorted(self.store.fans_of(keys)):
            record = self.store.user(user_id)
            _, fired = self.engine.on_catalog(record.state, item, now)
            if fired:
                self._touch(record)
                firings.extend(fired)
        return self._settle(firings, self.clock.now_ms, None)

    def on_wall_clock(self, wall_ms: int) -> Result:
        """Live mode: let an idle partition's time follow the wall clock (no-op in replay mode)."""
        self.clock.wall(wall_ms)
        return self._settle(self._tick(self.clock.now_ms), self.clock.now_ms, None)

    def checkpoint(self, apply: bool = True) -> list[tuple[bytes, bytes | None]]:
        """The changes since the last checkpoint (and the stream time) as writes, applied to the store unless
        `apply` is false (see PartitionStore.checkpoint)."""
        self.store.put(CLOCK, b"%d" % self.clock.now_ms)
        return self.store.checkpoint(apply)

    # --- the engine's side -------------------------------------------------------------------------------

    def _tick(self, now: int) -> list[Firing]:
        """Fire the engine timers due at the stream time, earliest first; costs O(users due), not O(users)."""
        index = self.store.engine_due
        due = index.next_due()
        if due is None or due > now:
            return []  # the common case: one comparison
        due_now = []  # taken out first: a timer re-armed at or before `now` fires at the next tick, not in this one
        while (entry := index.pop(now)) is not None:
            due_now.append(entry[1])
        firings: list[Firing] = []
        for user_id in due_now:
            record = self.store.user(user_id)
            _, fired = self.engine.on_time(record.state, now)
            self._touch(record)
            firings.extend(fired)
        return firings

    def _touch(self, record: UserRecord, event: Any = None) -> None:
        self.store.changed(record)
        if not self.engine.recommendations:
            return  # no fan-out, no keys (what `Engine.index_keys` says)
        # The keys of `Engine.index_keys` in two parts, each updated by its difference: most events change
        # neither the affinities over the bar nor the set of recent items.
        state, gained, tastes = record.state, self.store.fan_gained, record.tastes
        minimum = self.engine.min_affinity
        affinity = state.affinity
        if event is not None and len(affinity) < MAX_AFFINITY:
            # an event changes only its own affinity keys, and drops none while under the bound (no trim)
            for key in affinity_keys(event):
                entry = affinity.get(key)
                if entry is not None and entry[0] >= minimum:
                    if key not in tastes:
                        tastes.add(key)
                        gained(record, key)
                elif key in tastes:
                    tastes.discard(key)
                    record.fans_changed(key, False)
        else:
            now_tastes = {k for k, v in affinity.items() if v[0] >= minimum}
            if now_tastes != tastes:
                for key in now_tastes - tastes:
                    gained(record, key)
                for key in tastes - now_tastes:
                    record.fans_changed(key, False)
                record.tastes = now_tastes
        recent = state.recent_items
        items = record.items
        if recent.keys() != items:
            for item in recent.keys() - items:
                gained(record, f"i:{item}")
                items.add(item)
            if len(items) > len(recent):
                for item in items - recent.keys():
                    record.fans_changed(f"i:{item}", False)
                    items.discard(item)

    # --- the decision layer's side -----------------------------------------------------------------------

    def _settle(self, firings: list[Firing], stream_ms: int, own: Own | None) -> Result:
        """Decide firings, fire decision timers and apply a cancellation, all in event-time order."""
        result = Result(firings=firings)
        own_waits = own is not None and self.store.user(own[0]).decision_due is not None
        if not firings and not own_waits and self._nothing_due(stream_ms):
            return result
        queue: list[tuple[int, int, int, Any]] = [(f.at_ms, _FIRING, i, f) for i, f in enumerate(firings)]
        if own is not None and own[3]:
            queue.append((own[1], _CANCEL, -1, own))
        heapq.heapify(queue)
        while True:
            timer = self._next_timer(stream_ms, own)
            if timer is not None and (not queue or (timer[0], _TIMER) <= queue[0][:2]):
                if self.store.decision_due.peek(stream_ms) == timer:
                    self.store.decision_due.pop(stream_ms)
                self._fire_timer(timer[1], result)
                continue
            if not queue:
                return result
            at, rank, _, item = heapq.heappop(queue)
            if rank == _CANCEL:
                self._cancel(item[0], item[3], item[2], at, result)
            else:
                self._decide(item, result)

    def _nothing_due(self, stream_ms: int) -> bool:
        """No decision timer of any user is due at the stream time."""
        due = self.store.decision_due.next_due()
        return due is None or due > stream_ms

    def _next_timer(self, stream_ms: int, own: Own | None) -> tuple[int, str] | None:
        """The earliest due decision timer: any user's up to stream time, the event's user's up to its event time."""
        best = self.store.decision_due.peek(stream_ms)  # taken out only once it is fired
        if own is not None:
            mine = self.store.user(own[0]).decision_due
            if mine is not None and mine <= own[1] and (best is None or mine < best[0]):
                best = (mine, own[0])
        return best

    def _fire_timer(self, user_id: str, result: Result) -> None:
        side = self.store.side(user_id)
        if not side.timers:
            self.store.side_changed(user_id, side)
            return
        key = min(side.timers, key=lambda k: (side.timers[k], k))
        due = side.timers.pop(key)
        if key.startswith(AWAIT_PROFILE):  # the wait for the profile is over: decide without it
            firing_id = key[len(AWAIT_PROFILE) :]
            for firing in [f for f in side.awaiting if f.firing_id == firing_id]:
                side.awaiting.remove(firing)
                out = decide(firing, side.profile, side.decisions, self.config, firing.event_time_ms)
                self._apply(user_id, side, out, result)
            self.store.side_changed(user_id, side)
            return
        self._apply(user_id, side, on_timer(key, side.profile, side.decisions, self.config, due), result)

    def _decide(self, firing: Firing, result: Result) -> None:
        trigger = self.engine.triggers[firing.trigger_id]
        user_id = firing.user_id
        side = self.store.side(user_id)
        personal = personalise(firing, self.store.user(user_id).state, self.catalog, self.engine.half_life_ms)
        df = to_decision(firing, trigger, self.policies.get(trigger.id, Policy()), personal)
        wait = self.config.policy(trigger.id).await_profile_ms
        if side.profile is None and wait and len(side.awaiting) < MAX_AWAITING:
            side.awaiting.append(df)  # a signup is often read before the profile that names the user
            side.timers[AWAIT_PROFILE + df.firing_id] = firing.at_ms + wait
            self.store.side_changed(user_id, side)
            return
        self._apply(user_id, side, decide(df, side.profile, side.decisions, self.config, firing.at_ms), result)

    def _cancel(self, user_id: str, wanted: list[str], reason: str, at_ms: int, result: Result) -> None:
        side = self.store.side(user_id)
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
                    record = self.store.user(user_id)
                    until = decision.event_time_ms + self.watch_horizon_ms
                    if until > record.watch_until:
                        record.watch_until = until
                        self.store.changed(record)
        self.store.side_changed(user_id, side)
