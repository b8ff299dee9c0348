"""The simulated world: users, catalogue and reactions as records in event-time order; pure and seedable."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from connectors.simulator.catalogue import CURRENCY, Product, make_item
from connectors.simulator.errors import BadConfigError
from connectors.simulator.personas import CATEGORIES, DAY_MS, HOUR_MS, SimUser, make_user, stable_seed
from connectors.simulator.reaction import RETURN_GOAL, ReactionModel
from schemas.records import BehaviorEvent, EventContext

ITEMS_PER_CATEGORY = 25
NEW_ARRIVAL_EVERY_MS = 4 * HOUR_MS
PRICE_DROP_EVERY_MS = 3 * HOUR_MS
OUT_OF_STOCK_EVERY_MS = 6 * HOUR_MS
RESTOCK_AFTER_MS = 12 * HOUR_MS
MAX_BASKET = 3  # items a session adds to the cart at most


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What to simulate: population, span of event time, seed, and how users answer pushes."""

    users: int = 2000
    days: float = 3.0
    seed: int = 7
    start_ms: int = 1_700_000_000_000 - 1_700_000_000_000 % DAY_MS
    reactions: ReactionModel = field(default_factory=ReactionModel)

    def __post_init__(self) -> None:
        if self.users < 1 or self.days <= 0:
            raise BadConfigError(f"users must be >= 1 and days > 0 (got users={self.users}, days={self.days})")

    @property
    def end_ms(self) -> int:
        return self.start_ms + int(self.days * DAY_MS)


def _time_of(record: Any) -> int:
    at_ms: int = getattr(record, "event_time_ms", None) or record.updated_at_ms
    return at_ms


class World:
    """Everything due up to a time, in time order: `advance(until_ms)`; pushes come in through `push()`."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(stable_seed(config.seed, "world"))
        self.users: dict[str, SimUser] = {}
        self.items: list[Product] = []
        self.by_category: dict[str, list[Product]] = {c: [] for c in CATEGORIES}
        self.open_carts: dict[str, tuple[str, list[Product]]] = {}  # user -> (cart id, items in it)
        self.now_ms = config.start_ms
        self.published: dict[str, int] = {}
        self.pushes_seen: set[str] = set()
        self._queue: list[tuple[int, int, str, tuple[Any, ...]]] = []
        self._seq = 0
        for c, category in enumerate(CATEGORIES):
            for i in range(ITEMS_PER_CATEGORY):
                self._add_item(make_item(self.rng, f"i{c}{i:03d}", category))
        self._at(config.start_ms, "catalogue")  # the shop's catalogue is known before anyone visits
        for index in range(config.users):
            user = make_user(config.seed, index, config.start_ms)
            self.users[user.user_id] = user
            self._at(user.joins_at_ms, "join", user.user_id)
        self._at(config.start_ms + NEW_ARRIVAL_EVERY_MS, "arrival")
        self._at(config.start_ms + PRICE_DROP_EVERY_MS, "price_drop")
        self._at(config.start_ms + OUT_OF_STOCK_EVERY_MS, "out_of_stock")

    def _at(self, at_ms: int, kind: str, *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at_ms, self._seq, kind, args))

    def advance(self, until_ms: int) -> list[Any]:
        """Every record due at or before `until_ms`, in event-time order."""
        out: list[Any] = []
        while self._queue and self._queue[0][0] <= until_ms:
            at_ms, _, kind, args = heapq.heappop(self._queue)
            self.now_ms = max(self.now_ms, at_ms)
            if kind == "emit":
                out.append(args[0])
                continue
            made: list[Any] = []
            getattr(self, f"_on_{kind}")(at_ms, made, *args)
            for record in made:  # a session's later clicks wait in the queue, so output stays in time order
                self._at(_time_of(record), "emit", record)
        self.now_ms = max(self.now_ms, until_ms)
        for record in out:
            name = type(record).__name__
            self.published[name] = self.published.get(name, 0) + 1
        return out

    def pending(self) -> int:
        """Records and actions still scheduled."""
        return len(self._queue)

    def push(self, job_id: str, user_id: str, trigger_id: str, variant: str | None, at_ms: int) -> bool:
        """A push reached the user at `at_ms`; schedule their answer. False for unknown users or repeats."""
        user = self.users.get(user_id)
        if user is None or job_id in self.pushes_seen:
            return False
        self.pushes_seen.add(job_id)
        at_ms = max(at_ms, self.now_ms)
        rng = random.Random(stable_seed(self.config.seed, "push", job_id))  # independent of arrival order
        r = self.config.reactions.react(rng, user, trigger_id, variant or "default", at_ms)
        if r.open_after_ms is not None:
            self._at(at_ms + r.open_after_ms, "feedback", user_id, "notification_opened", job_id, trigger_id)
        if r.click_after_ms is not None:
            self._at(at_ms + r.click_after_ms, "feedback", user_id, "notification_clicked", job_id, trigger_id)
            self._at(at_ms + r.click_after_ms + 1_000, "event", user_id, "app_open", {"source": "push"})
        if r.convert_after_ms is not None and trigger_id not in RETURN_GOAL:
            self._at(at_ms + r.convert_after_ms, "buy", user_id, "push")
        return True

    # --- scheduled actions ---------------------------------------------------------------------

    def _event(self, user: SimUser, type_: str, at_ms: int, **fields: Any) -> BehaviorEvent:
        p = user.profile
        return BehaviorEvent(
            event_id=f"e-{user.user_id}-{at_ms}-{type_}",  # stable whatever order pushes arrive in
            user_id=user.user_id,
            type=type_,
            event_time_ms=at_ms,
            context=EventContext(platform=p.platform, app_version="3.2.0", locale=p.locale, time_zone=p.time_zone),
            **fields,
        )

    def _on_join(self, at_ms: int, out: list[Any], user_id: str) -> None:
        user = self.users[user_id]
        out += [user.profile, user.device]
        if user.persona.new_user:
            out.append(self._event(user, "signup", at_ms))
            self._at(at_ms + 60_000, "session", user_id)
        else:
            self._schedule_session(user, at_ms)

    def _schedule_session(self, user: SimUser, after_ms: int) -> None:
        rng = random.Random(stable_seed(self.config.seed, "session", user.user_id, after_ms))
        at_ms = after_ms + int(rng.expovariate(user.persona.sessions_per_day / DAY_MS))
        local = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(ZoneInfo(user.profile.time_zone or "UTC"))
        if local.hour < 7:  # people sleep: the session moves to the morning
            at_ms += (7 - local.hour) * HOUR_MS + rng.randrange(HOUR_MS)
        if at_ms < self.config.end_ms:
            self._at(at_ms, "session", user.user_id)

    def _on_session(self, at_ms: int, out: list[Any], user_id: str) -> None:
        user = self.users[user_id]
        rng = random.Random(stable_seed(self.config.seed, "visit", user_id, at_ms))
        p = user.persona
        session = f"s-{user_id}-{at_ms}"
        t = at_ms
        out.append(self._event(user, "app_open", t, session_id=session))
        viewed: list[Product] = []
        for _ in range(rng.randint(*p.views_per_session)):
            t += rng.randrange(5_000, 90_000)
            seen = self._pick_item(rng, user)
            viewed.append(seen)
            out.append(self._item_event(user, "view", t, seen, session_id=session))
            if rng.random() < 0.05:
                out.append(self._item_event(user, "fav", t + 1_000, seen, session_id=session))
        if viewed and rng.random() < p.cart_p:
            cart_id, basket = self.open_carts.get(user_id) or (f"c-{user_id}-{t}", [])
            for item in rng.sample(viewed, min(len(viewed), rng.randint(1, MAX_BASKET))):
                t += rng.randrange(5_000, 60_000)
                out.append(self._item_event(user, "cart", t, item, session_id=session, cart_id=cart_id, quantity=1))
                basket.append(item)
            if len(basket) > 1 and rng.random() < 0.15:  # second thoughts
                t += rng.randrange(5_000, 60_000)
                out.append(self._item_event(user, "remove_from_cart", t, basket.pop(), session_id=session,
                                            cart_id=cart_id))  # fmt: skip
            self.open_carts[user_id] = (cart_id, basket)
            if rng.random() < p.buy_now_p:
                self._at(t + rng.randrange(30_000, 600_000), "buy", user_id, "session")
            elif rng.random() < p.natural_return_p:  # the base rate a holdout user converts at
                self._at(t + rng.randrange(HOUR_MS, 30 * HOUR_MS), "buy", user_id, "return")
        self._schedule_session(user, t)

    def _on_buy(self, at_ms: int, out: list[Any], user_id: str, source: str) -> None:
        user = self.users[user_id]
        cart_id, basket = self.open_carts.pop(user_id, (None, []))
        if not basket:
            if source == "return":
                return  # the cart was already bought (after a push, say)
            basket = [self._pick_item(random.Random(stable_seed(self.config.seed, user_id, at_ms)), user)]
        for i, item in enumerate(basket):  # one purchase line per item; the first closes the cart
            out.append(self._item_event(user, "purchase", at_ms + i, item, cart_id=cart_id, quantity=1,
                                        properties={"source": source}))  # fmt: skip

    def _on_feedback(self, at_ms: int, out: list[Any], user_id: str, type_: str, job_id: str, trigger_id: str) -> None:
        out.append(self._event(self.users[user_id], type_, at_ms, job_id=job_id, properties={"trigger_id": trigger_id}))

    def _on_event(self, at_ms: int, out: list[Any], user_id: str, type_: str, properties: dict[str, Any]) -> None:
        out.append(self._event(self.users[user_id], type_, at_ms, properties=properties))

    def _on_catalogue(self, at_ms: int, out: list[Any]) -> None:
        out.extend(item.record("update", at_ms) for item in self.items)

    def _on_arrival(self, at_ms: int, out: list[Any]) -> None:
        item = make_item(self.rng, f"n{len(self.items):04d}", self.rng.choice(CATEGORIES))
        self._add_item(item)
        out.append(item.record("new_arrival", at_ms))
        if at_ms + NEW_ARRIVAL_EVERY_MS < self.config.end_ms:
            self._at(at_ms + NEW_ARRIVAL_EVERY_MS, "arrival")

    def _on_price_drop(self, at_ms: int, out: list[Any]) -> None:
        item = self.rng.choice(self.items)
        previous, item.price = item.price, round(item.price * 0.8, 2)
        out.append(item.record("price_drop", at_ms, previous))
        if at_ms + PRICE_DROP_EVERY_MS < self.config.end_ms:
            self._at(at_ms + PRICE_DROP_EVERY_MS, "price_drop")

    def _on_out_of_stock(self, at_ms: int, out: list[Any]) -> None:
        item = self.rng.choice([i for i in self.items if i.in_stock])
        item.in_stock = False
        out.append(item.record("update", at_ms))
        self._at(at_ms + RESTOCK_AFTER_MS, "restock", item.item_id)
        if at_ms + OUT_OF_STOCK_EVERY_MS < self.config.end_ms:
            self._at(at_ms + OUT_OF_STOCK_EVERY_MS, "out_of_stock")

    def _on_restock(self, at_ms: int, out: list[Any], item_id: str) -> None:
        item = next(i for i in self.items if i.item_id == item_id)
        item.in_stock = True
        out.append(item.record("back_in_stock", at_ms))

    def _pick_item(self, rng: random.Random, user: SimUser) -> Product:
        category = rng.choice(user.favourites) if rng.random() < user.persona.focus else rng.choice(CATEGORIES)
        return rng.choice(self.by_category[category])

    def _add_item(self, item: Product) -> None:
        self.items.append(item)
        self.by_category[item.category].append(item)

    def _item_event(self, user: SimUser, type_: str, at_ms: int, item: Product, **fields: Any) -> BehaviorEvent:
        return self._event(
            user,
            type_,
            at_ms,
            item_id=item.item_id,
            category=item.category,
            price=item.price,
            currency=CURRENCY,
            **fields,
        )
