"""One partition's engine loop: stream clock, timer index, fan-out index, and dirty states."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from streams.engine.clock import StreamClock
from streams.engine.engine import CatalogLike, Engine, affinity_keys
from streams.engine.firing import Firing
from streams.engine.matching import EventLike
from streams.engine.state import MAX_AFFINITY, UserState
from streams.engine.timers import TimerIndex

Loader = Callable[[str], UserState | None]
_EMPTY: dict[str, None] = {}  # read only


class PartitionProcessor:
    """Feeds events, profiles, catalogue updates and ticks to the Engine for one partition.

    Timers are fired after every event (not once per batch), so the result does not depend on how
    a consumer happens to batch the partition: replays are identical on any number of workers.
    """

    def __init__(self, engine: Engine, load: Loader, clock: StreamClock) -> None:
        self.engine = engine
        self.load = load
        self.clock = clock
        self.timers = TimerIndex()
        self.fanout: dict[str, dict[str, None]] = {}  # affinity key -> users
        self.item_fanout: dict[str, dict[str, None]] = {}  # item id -> users (the "i:<item>" keys)
        self._tastes: dict[str, dict[str, None]] = {}  # user -> its affinity keys in `fanout`
        self._items: dict[str, dict[str, None]] = {}  # user -> its item ids in `item_fanout`
        self.dirty: dict[str, UserState] = {}
        self.late_events = 0

    def rebuild(self, states: Iterable[UserState]) -> None:
        """Rebuild the timer and fan-out indexes from stored states (after recovery or rebalance)."""
        for state in states:
            self._index(state)

    def state(self, user_id: str) -> UserState:
        """The user's current state (pending writes first)."""
        state = self.dirty.get(user_id) or self.load(user_id)
        return state if state is not None else UserState(user_id)

    def on_event(self, event: EventLike) -> list[Firing]:
        """Apply one behaviour event, then fire whatever the new stream time makes due."""
        if self.clock.is_late(event.event_time_ms):
            self.late_events += 1
        now = self.clock.observe(event.event_time_ms)
        state, firings = self.engine.on_event(self.state(event.user_id), event, now)
        self._touch(state, event)
        return firings + self.tick()

    def on_profile(self, profile: Any) -> list[Firing]:
        """Store profile fields (audiences, anniversaries)."""
        self._touch(self.engine.on_profile(self.state(profile.user_id), profile))
        return self.tick()

    def on_catalog(self, item: CatalogLike) -> list[Firing]:
        """Fan a catalogue update out to this partition's candidates via the index (no scan)."""
        keys = []
        if item.category is not None:
            keys.append(f"c:{item.category}")
        if item.creator is not None:
            keys.append(f"r:{item.creator}")
        found = [self.item_fanout.get(item.item_id, _EMPTY), *(self.fanout.get(k, _EMPTY) for k in keys)]
        candidates = sorted(set().union(*found))
        now = max(self.clock.now_ms, item.event_time_ms)
        firings: list[Firing] = []
        for user_id in candidates:
            state, fired = self.engine.on_catalog(self.state(user_id), item, now)
            if fired:
                self._touch(state)
                firings.extend(fired)
        return firings

    def on_wall_clock(self, wall_ms: int) -> list[Firing]:
        """Live mode: let an idle partition's time follow the wall clock (no-op in replay mode)."""
        self.clock.wall(wall_ms)
        return self.tick()

    def tick(self) -> list[Firing]:
        """Fire timers due at the stream time; costs O(users due), not O(users)."""
        firings: list[Firing] = []
        now = self.clock.now_ms
        for user_id in self.timers.pop_due(now):
            state, fired = self.engine.on_time(self.state(user_id), now)
            self._touch(state)
            firings.extend(fired)
        return firings

    def take_dirty(self) -> dict[str, UserState]:
        """Return and forget states changed since the last call (the caller persists them)."""
        dirty, self.dirty = self.dirty, {}
        return dirty

    def _touch(self, state: UserState, event: EventLike | None = None) -> None:
        self.dirty[state.user_id] = state
        self._index(state, event)

    def _index_event_tastes(self, user_id: str, affinity: dict[str, Any], event: EventLike, minimum: float) -> None:
        """An event changes only its own affinity keys, and drops none while the user has fewer than the
        maximum (no trim happened): compare just those keys with the index."""
        old = self._tastes.get(user_id)
        for key in affinity_keys(event):
            entry = affinity.get(key)
            if entry is not None and entry[0] >= minimum:
                if old is None:
                    old = self._tastes[user_id] = {}
                if key not in old:
                    old[key] = None
                    self.fanout.setdefault(key, {})[user_id] = None
            elif old is not None and key in old:
                del old[key]
                self.fanout[key].pop(user_id, None)

    def _index(self, state: UserState, event: EventLike | None = None) -> None:
        user_id = state.user_id
        self.timers.set(user_id, state.next_due())
        if not self.engine.recommendations:
            return  # no fan-out, no keys (what `Engine.index_keys` says)
        # The keys of `Engine.index_keys` in two parts, each updated by its difference: most events
        # change neither the affinities above the threshold nor the set of recent items. Sets of
        # strings are kept as dicts to None: those the garbage collector does not track or scan.
        minimum = self.engine.min_affinity
        affinity = state.affinity
        if event is not None and len(affinity) < MAX_AFFINITY:
            self._index_event_tastes(user_id, affinity, event, minimum)
        else:
            tastes = {k: None for k, v in affinity.items() if v[0] >= minimum}
            old = self._tastes.get(user_id, _EMPTY)
            if tastes != old:
                for key in old.keys() - tastes.keys():
                    self.fanout[key].pop(user_id, None)
                for key in tastes.keys() - old.keys():
                    self.fanout.setdefault(key, {})[user_id] = None
                self._tastes[user_id] = tastes
        items = state.recent_items.keys()
        known = self._items.get(user_id)
        if known is None:
            if not items:
                return
            known = self._items[user_id] = {}
        if items != known.keys():
            for item in known.keys() - items:
                del known[item]
                users = self.item_fanout[item]
                del users[user_id]
                if not users:
                    del self.item_fanout[item]
            for item in items - known.keys():
                known[item] = None
                self.item_fanout.setdefault(item, {})[user_id] = None
