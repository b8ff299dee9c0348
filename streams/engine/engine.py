"""The Engine: `(state, event, now) -> (state, firings)` and `(state, now) -> (state, firings)`."""

from __future__ import annotations

from typing import Any, Protocol

from streams.engine.config import Catalogue, Trigger
from streams.engine.firing import Firing
from streams.engine.kinds import arm_anniversary, on_event_kind, on_timer_kind
from streams.engine.matching import EventLike, in_audience
from streams.engine.state import (
    DAY_MS,
    MAX_ACTIVE_DAYS,
    MAX_AFFINITY,
    MAX_RECENT_ITEMS,
    MAX_TYPES,
    UserState,
    expire_fired,
    trim_dict,
)

# How much each behaviour says about taste (a purchase outweighs a glance).
AFFINITY_WEIGHTS = {"view": 1.0, "play": 1.0, "fav": 2.0, "cart": 3.0, "purchase": 5.0}
RECENT_ITEM_TYPES = ("view", "cart")
PURCHASE = "purchase"


class CatalogLike(Protocol):
    """The fields of a CatalogItem the engine reads."""

    item_id: str
    kind: str
    category: str | None
    creator: str | None
    price: float | None
    previous_price: float | None
    event_time_ms: int


class Engine:
    """Stateless rules over a catalogue; the caller owns the states and passes them in.

    Methods update the given state in place and return it, so a table adapter can store it as is.
    """

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.triggers = {t.id: t for t in catalogue.triggers}
        self.event_triggers = [t for t in catalogue.triggers if t.kind != "recommendation"]
        self.recommendations = [t for t in catalogue.triggers if t.kind == "recommendation"]
        self.anniversaries = [t for t in catalogue.triggers if t.kind == "milestone" and t.mode == "anniversary"]
        self.half_life_ms = min((t.half_life_ms for t in self.recommendations), default=7 * DAY_MS)
        self.lookback_ms = max((t.lookback_ms for t in self.recommendations), default=0)
        self.min_affinity = min((t.min_affinity for t in self.recommendations), default=0.0)

    def on_event(self, state: UserState, event: EventLike, now_ms: int) -> tuple[UserState, list[Firing]]:
        """Apply one behaviour event at stream time `now_ms`."""
        t = event.event_time_ms
        if t < now_ms:
            state.late_events += 1  # late: still updates state; its stale windows never fire
        # The user's own timeline has passed these deadlines, whatever the partition's stream time.
        state, elapsed = self.on_time(state, t)
        self._aggregate(state, event)
        firings: list[Firing] = []
        for trigger in self.event_triggers:
            firings.extend(on_event_kind(trigger, state, event, now_ms))
        if self.recommendations:
            self._learn(state, event)
        return state, elapsed + self._admit(state, firings, t)

    def on_time(self, state: UserState, now_ms: int) -> tuple[UserState, list[Firing]]:
        """Fire every timer of this user due at or before `now_ms`, in due order."""
        due = sorted((v[0], k) for k, v in state.timers.items() if v[0] <= now_ms)
        firings: list[Firing] = []
        for at, key in due:
            entry = state.timers.pop(key, None)
            trigger_id, name = key.split("|", 1)
            trigger = self.triggers.get(trigger_id)
            if entry is None or trigger is None:
                continue  # a timer of a trigger removed from the catalogue
            extra = entry[2] if len(entry) > 2 else {}
            firings.extend(on_timer_kind(trigger, state, name, at, entry[1], extra))
        return state, self._admit(state, firings, now_ms)

    def on_profile(self, state: UserState, profile: Any) -> UserState:
        """Keep the profile fields audiences and anniversaries read."""
        fields = ("country", "platform", "locale", "time_zone", "signup_ms", "first_name", "unsubscribed")
        state.profile = {f: v for f in fields if (v := getattr(profile, f, None)) is not None}
        if getattr(profile, "attributes", None):
            state.profile["attributes"] = dict(profile.attributes)
        for trigger in self.anniversaries:
            arm_anniversary(trigger, state, getattr(profile, "updated_at_ms", 0) or 0)
        return state

    def on_catalog(self, state: UserState, item: CatalogLike, now_ms: int) -> tuple[UserState, list[Firing]]:
        """Recommendation firings for one candidate user of a catalogue update."""
        firings = []
        for trigger in self.recommendations:
            if trigger.source != item.kind:
                continue
            if trigger.by == "item":
                seen = state.recent_items.get(item.item_id)
                if seen is None or now_ms - seen > trigger.lookback_ms:
                    continue
                if item.kind == "price_drop" and not (item.price or 0) < (item.previous_price or 0):
                    continue
            else:
                value = item.category if trigger.by == "category" else item.creator
                if value is None or self.affinity(state, trigger.by, value, now_ms) < trigger.min_affinity:
                    continue
            extra = {k: str(v) for k in ("item_id", "category", "creator", "price") if (v := getattr(item, k))}
            firings.append(
                Firing(state.user_id, trigger.id, f"{item.kind}:{item.item_id}", now_ms, {**trigger.data, **extra})
            )
        return state, self._admit(state, firings, now_ms)

    def affinity(self, state: UserState, by: str, value: str, now_ms: int) -> float:
        """The user's decayed affinity for a category or creator at `now_ms`."""
        entry = state.affinity.get(f"{by[0]}:{value}")
        if entry is None:
            return 0.0
        return entry[0] * 0.5 ** (max(0, now_ms - entry[1]) / self.half_life_ms)

    def index_keys(self, state: UserState) -> set[str]:
        """Fan-out index keys this user should be found under ("c:cat", "r:creator", "i:item")."""
        if not self.recommendations:
            return set()
        keys = {k for k, v in state.affinity.items() if v[0] >= self.min_affinity}
        keys.update(f"i:{item}" for item in state.recent_items)
        return keys

    def _aggregate(self, state: UserState, event: EventLike) -> None:
        t = event.event_time_ms
        state.events += 1
        state.first_ms = t if state.first_ms is None else min(state.first_ms, t)
        state.last_ms = t if state.last_ms is None else max(state.last_ms, t)
        if state.last_by_type.get(event.type, -1) < t:
            state.last_by_type[event.type] = t
            trim_dict(state.last_by_type, MAX_TYPES, lambda v: v)
        if event.type == PURCHASE:
            state.purchases += 1
            state.spend += (event.price or 0.0) * (getattr(event, "quantity", None) or 1)
        day = t // DAY_MS
        if day not in state.active_days:
            state.active_days = sorted([*state.active_days, day])[-MAX_ACTIVE_DAYS:]

    def _learn(self, state: UserState, event: EventLike) -> None:
        t = event.event_time_ms
        weight = AFFINITY_WEIGHTS.get(event.type, 0.0)
        for by, value in (("category", event.category), ("creator", event.creator)):
            if weight and value is not None:
                score = self.affinity(state, by, value, t) + weight
                state.affinity[f"{by[0]}:{value}"] = [
                    round(score, 4),
                    max(t, state.affinity.get(f"{by[0]}:{value}", [0, 0])[1]),
                ]
        trim_dict(state.affinity, MAX_AFFINITY, lambda v: v[0] * 0.5 ** ((t - v[1]) / self.half_life_ms))
        if event.type in RECENT_ITEM_TYPES and event.item_id is not None:
            state.recent_items[event.item_id] = max(t, state.recent_items.get(event.item_id, 0))
        for item in [i for i, seen in state.recent_items.items() if t - seen > self.lookback_ms]:
            del state.recent_items[item]
        trim_dict(state.recent_items, MAX_RECENT_ITEMS, lambda v: v)

    def _admit(self, state: UserState, firings: list[Firing], now_ms: int) -> list[Firing]:
        """Drop firings outside the audience, already fired, or inside the re-eligibility gap."""
        admitted = []
        for firing in firings:
            trigger: Trigger = self.triggers[firing.trigger_id]
            if not in_audience(trigger.audience, state, firing.at_ms):
                continue
            if trigger.reeligible_after_ms:
                # Markers only for triggers with a re-eligibility gap, so "every"-triggers keep no history.
                marker = f"{firing.trigger_id}|{firing.instance.split('@')[0]}"
                last = state.fired.get(marker)
                if last is not None and firing.at_ms - last < trigger.reeligible_after_ms:
                    continue
                state.fired[marker] = firing.at_ms
            admitted.append(firing)
        if admitted:
            expire_fired(state, now_ms)
        return admitted
