"""The Engine: `(state, event, now) -> (state, firings)` and `(state, now) -> (state, firings)`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from streams.engine.carts import CART, CART_TYPES, DEFAULT_CART, PURCHASE, apply_cart_event, cart_lines
from streams.engine.config import Catalogue, Match, Trigger
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
        # Absence triggers started by cart events: their firings carry the cart's lines.
        self.cart_reminders = [t for t in catalogue.triggers if t.kind == "absence" and CART in t.on.types]
        self.anniversaries = [t for t in catalogue.triggers if t.kind == "milestone" and t.mode == "anniversary"]
        self.half_life_ms = min((t.half_life_ms for t in self.recommendations), default=7 * DAY_MS)
        self.lookback_ms = max((t.lookback_ms for t in self.recommendations), default=0)
        self.min_affinity = min((t.min_affinity for t in self.recommendations), default=0.0)
        # Event type -> the event triggers that can act on it, in catalogue order (same firings, fewer calls).
        self._by_type: dict[str, list[Trigger]] = {}

    def on_event(self, state: UserState, event: EventLike, now_ms: int) -> tuple[UserState, list[Firing]]:
        """Apply one behaviour event at stream time `now_ms`."""
        t = event.event_time_ms
        if t < now_ms:
            state.late_events += 1  # late: still updates state; its stale windows never fire
        # The user's own timeline has passed these deadlines, whatever the partition's stream time.
        state, elapsed = self.on_time(state, t)
        self._aggregate(state, event)
        if event.type in CART_TYPES:
            emptied = apply_cart_event(state.carts, state.bought, event)
            if emptied is not None:
                self._forget_cart(state, emptied)
        firings: list[Firing] = []
        triggers = self._by_type.get(event.type)
        if triggers is None:
            triggers = self._for_type(event.type)
        for trigger in triggers:
            fired = on_event_kind(trigger, state, event, now_ms)
            if fired:
                firings.extend(fired)
        if self.recommendations:
            self._learn(state, event)
        if firings:
            elapsed = elapsed + self._admit(state, firings, t)
        return state, elapsed

    def _forget_cart(self, state: UserState, cart_id: str) -> None:
        """An emptied cart needs no reminder: drop the cart triggers' windows for it."""
        for trigger in self.cart_reminders:
            corr = DEFAULT_CART if trigger.key == "user" else cart_id
            if trigger.key == "user" and state.carts:
                continue  # one window for all the user's carts, and another cart still holds something
            state.timers.pop(f"{trigger.id}|{corr}", None)

    def cart_lines(self, trigger: Trigger, state: UserState, correlation: str) -> list[dict[str, Any]]:
        """The open cart lines a firing of this absence trigger is about (none for triggers not on carts)."""
        if trigger not in self.cart_reminders:
            return []
        return cart_lines(state.carts, None if trigger.key == "user" else correlation)

    def _for_type(self, event_type: str) -> list[Trigger]:
        """The event triggers that may act on an event of this type (cached for a bounded set of types)."""
        triggers = [t for t in self.event_triggers if _acts_on(t, event_type)]
        if len(self._by_type) < 1024:  # types come from input: bound the cache, not the answer
            self._by_type[event_type] = triggers
        return triggers

    def on_time(self, state: UserState, now_ms: int) -> tuple[UserState, list[Firing]]:
        """Fire every timer of this user due at or before `now_ms`, in due order."""
        for timer in state.timers.values():
            if timer[0] <= now_ms:
                break
        else:
            return state, []  # nothing due (the common case): no sort, no admission
        due = sorted((v[0], k) for k, v in state.timers.items() if v[0] <= now_ms)
        firings: list[Firing] = []
        for at, key in due:
            entry = state.timers.pop(key, None)
            trigger_id, name = key.split("|", 1)
            trigger = self.triggers.get(trigger_id)
            if entry is None or trigger is None:
                continue  # a timer of a trigger removed from the catalogue
            extra = entry[2] if len(entry) > 2 else {}
            fired = on_timer_kind(trigger, state, name, at, entry[1], extra)
            if fired and trigger in self.cart_reminders:
                lines = tuple(self.cart_lines(trigger, state, name))
                fired = [replace(f, cart=lines) for f in fired]
            firings.extend(fired)
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
            extra = {k: str(v) for k in CATALOG_FIELDS if (v := getattr(item, k, None)) is not None}
            firings.append(
                Firing(state.user_id, trigger.id, f"{item.kind}:{item.item_id}", now_ms, {**trigger.data, **extra})
            )
        return state, self._admit(state, firings, now_ms)

    def affinity(self, state: UserState, by: str, value: str, now_ms: int) -> float:
        """The user's decayed affinity for a category or creator at `now_ms`."""
        entry = state.affinity.get(f"{AFFINITY_PREFIX[by]}:{value}")
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
            if len(state.last_by_type) > MAX_TYPES:
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
        if weight:
            affinity = state.affinity
            for key in affinity_keys(event):
                entry = affinity.get(key)
                if entry is None:
                    affinity[key] = [round(0.0 + weight, 4), max(t, 0)]
                else:
                    decayed = entry[0] * 0.5 ** (max(0, t - entry[1]) / self.half_life_ms)
                    affinity[key] = [round(decayed + weight, 4), max(t, entry[1])]
        if len(state.affinity) > MAX_AFFINITY:
            trim_dict(state.affinity, MAX_AFFINITY, lambda v: v[0] * 0.5 ** ((t - v[1]) / self.half_life_ms))
        recent = state.recent_items
        if event.type in RECENT_ITEM_TYPES and event.item_id is not None:
            recent[event.item_id] = max(t, recent.get(event.item_id, 0))
        if recent:
            oldest = t - self.lookback_ms
            if min(recent.values()) < oldest:
                for item in [i for i, seen in recent.items() if seen < oldest]:
                    del recent[item]
            if len(recent) > MAX_RECENT_ITEMS:
                trim_dict(recent, MAX_RECENT_ITEMS, lambda v: v)

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


# What a recommendation firing carries of its item (the catalogue's merged view of it).
CATALOG_FIELDS = ("item_id", "category", "creator", "title", "price", "previous_price", "currency", "image_url",
                  "deep_link")  # fmt: skip
AFFINITY_PREFIX = {"category": "c", "creator": "r"}  # the fan-out index's key spaces, as catalogue updates look them up


def affinity_keys(event: EventLike) -> list[str]:
    """The affinity keys an event can change (the only ones `_learn` adds to or updates)."""
    keys = []
    if event.category is not None:
        keys.append(f"c:{event.category}")
    if event.creator is not None:
        keys.append(f"r:{event.creator}")
    return keys


def _types_or_any(match: Match, event_type: str) -> bool:
    return not match.types or event_type in match.types


def _acts_on(trigger: Trigger, event_type: str) -> bool:
    """Whether `on_event_kind` can change state or fire for an event of this type (mirrors kinds.py)."""
    kind = trigger.kind
    if kind in ("event", "inactivity"):
        return _types_or_any(trigger.on, event_type)
    if kind == "milestone":
        return trigger.mode != "anniversary" and _types_or_any(trigger.on, event_type)
    if kind == "absence":
        return _types_or_any(trigger.stop, event_type) or _types_or_any(trigger.on, event_type)
    if kind == "sequence":
        return _types_or_any(trigger.on, event_type) or event_type in trigger.goal.types
    return True
