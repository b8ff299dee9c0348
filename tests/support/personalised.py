"""A scenario with one user per trigger kind and what each should read on the phone, for personalisation tests.

The inputs come in phases (each ends with a clock event that moves stream time on), so a test through the
real pipeline can wait for each phase's pushes before it sends the next one, as time passes for real users.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from schemas.records import CatalogItem, DeviceToken, UserProfile
from tests.support.records import event

ROOT = Path(__file__).resolve().parents[2]
MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_709_546_400_000  # 2024-03-04 10:00 UTC, a Monday
NBSP = "\u00a0"
IMG = "https://img.nudge.example/{}.jpg"


def _item(item_id: str, title: str, price: float, category: str, kind: str = "update", at: int = T0 - DAY,
          **extra: Any) -> CatalogItem:  # fmt: skip
    return CatalogItem(item_id=item_id, kind=kind, title=title, price=price, currency="EUR", category=category,
                       image_url=IMG.format(item_id), deep_link=f"https://shop.nudge.example/p/{item_id}",
                       event_time_ms=at, **extra)  # fmt: skip


CATALOGUE = [
    _item("hike-boot", "Alpine Hiking Boot", 89.90, "shoes"),
    _item("rain-jacket", "Rain Jacket", 129.00, "jackets"),
    _item("camp-mug", "Camp Mug", 12.50, "kitchen"),
    _item("game-3007", "Games #i3007", 148.78, "games"),
    _item("game-1", "Dice Tower", 25.00, "games"),
    _item("game-2", "Card Castle", 19.00, "games"),
    _item("lamp", "Desk Lamp", 34.00, "home"),
    _item("espresso", "Espresso Cup", 55.00, "kitchen"),
]


@dataclass(frozen=True)
class Expected:
    """What one user's push for one trigger must show: text in title + body, and the image (None: none)."""

    user_id: str
    trigger_id: str
    contains: tuple[str, ...]
    image_url: str | None = None
    absent: tuple[str, ...] = ()


@dataclass
class Phase:
    """Records in event-time order, then the stream time every partition is moved to."""

    name: str
    records: list[Any] = field(default_factory=list)
    clock_ms: int = 0


def profile(user_id: str, name: str | None, locale: str, at: int = T0 - DAY, **extra: Any) -> UserProfile:
    return UserProfile(user_id=user_id, first_name=name, locale=locale, time_zone="Europe/London", country="GB",
                       platform="android", signup_ms=extra.pop("signup_ms", T0 - 100 * DAY), updated_at_ms=at,
                       **extra)  # fmt: skip


def token(user_id: str) -> DeviceToken:
    return DeviceToken(user_id=user_id, token=f"tok-{user_id}", platform="android", app_id="dev.nudge.test",
                       updated_at_ms=T0 - DAY)  # fmt: skip


# The profile of u-new is sent only after its signup event (the name race); u-anon never has one.
PROFILES = [
    profile("u-de-cart", "Jonas", "de-DE"),
    profile("u-en-cart", "Maya", "en-GB"),
    profile("u-drop", "Ines", "en-GB"),
    profile("u-fan", "Kofi", "en-GB"),
    profile("u-stock", "Lena", "en-GB"),
    profile("u-loyal", "Emma", "en-GB"),
    profile("u-streak", "Farid", "en-GB"),
    profile("u-lapsed", "Greta", "en-GB"),
    profile("u-anniv", "Chloé", "en-GB", signup_ms=T0 - 2 * 365 * DAY + 2 * DAY),
]
LATE_PROFILE = profile("u-new", "Hiro", "en-GB", at=T0 + 20 * MIN)
USERS = [p.user_id for p in PROFILES] + ["u-new", "u-anon"]


def phases() -> list[Phase]:
    """Setup, the first day (carts, signups, purchases, catalogue news), a week of streaks, a quiet week."""
    setup = Phase("setup", [*PROFILES, *CATALOGUE], T0 - HOUR)
    day0 = Phase("day 0")  # no clock: the signups' profile is still on its way
    add = day0.records.append
    add(event("u-de-cart", "cart", T0, item_id="hike-boot", cart_id="k1", price=89.90, currency="EUR"))
    add(event("u-de-cart", "cart", T0 + MIN, item_id="rain-jacket", cart_id="k1", price=129.00, currency="EUR"))
    add(event("u-en-cart", "cart", T0, item_id="camp-mug", cart_id="k2", price=12.50, currency="EUR"))
    add(event("u-en-cart", "cart", T0 + MIN, item_id="lamp", cart_id="k2", price=34.00, currency="EUR"))
    add(event("u-en-cart", "remove_from_cart", T0 + 2 * MIN, item_id="lamp", cart_id="k2"))
    add(event("u-drop", "view", T0 + MIN, item_id="game-3007", category="games", price=148.78, currency="EUR"))
    add(event("u-stock", "view", T0 + MIN, item_id="lamp", category="home"))
    for i, item in enumerate(("game-1", "game-2")):  # two carts and a purchase: a fan of games
        add(event("u-fan", "cart", T0 + i * MIN, item_id=item, category="games", cart_id=f"fan{i}"))
    add(event("u-fan", "purchase", T0 + 3 * MIN, item_id="game-1", category="games", price=25.0, currency="EUR"))
    for i in range(10):  # ten orders in an hour, 550 EUR: the tenth order and the big week
        add(event("u-loyal", "purchase", T0 + (5 + i) * MIN, item_id="espresso", category="kitchen", price=55.0,
                  currency="EUR", quantity=1))  # fmt: skip
    add(event("u-lapsed", "view", T0 + MIN, item_id="camp-mug", category="kitchen"))
    add(event("u-lapsed", "view", T0 + 2 * MIN, item_id="espresso", category="kitchen"))
    add(event("u-streak", "app_open", T0))
    add(event("u-new", "signup", T0 + 20 * MIN))  # the last events of the phase: stream time stays near them
    add(event("u-anon", "signup", T0 + 20 * MIN))
    day0.records.sort(key=lambda r: r.event_time_ms)
    late = Phase("a profile read after its signup", [LATE_PROFILE], T0 + 4 * HOUR)
    news = Phase("catalogue news", clock_ms=T0 + 5 * HOUR)
    news.records += [
        CatalogItem(
            item_id="game-3007",
            kind="price_drop",
            price=119.02,
            previous_price=148.78,
            event_time_ms=T0 + 4 * HOUR + MIN,
        ),
        CatalogItem(item_id="lamp", kind="update", in_stock=False, event_time_ms=T0 + 4 * HOUR + MIN),
        CatalogItem(item_id="lamp", kind="back_in_stock", event_time_ms=T0 + 4 * HOUR + 2 * MIN),
        _item("board-deluxe", "Board Game Deluxe", 59.00, "games", kind="new_arrival", at=T0 + 4 * HOUR + 3 * MIN),
        _item("steel-kettle", "Steel Kettle", 45.00, "kitchen", kind="new_arrival", at=T0 + 4 * HOUR + 4 * MIN),
    ]
    # One phase a day: in replay, a delivery worker judges a job's deadline by the newest job it has read.
    week = [Phase(f"day {d}", [event("u-streak", "app_open", T0 + d * DAY)], T0 + d * DAY + 12 * HOUR)
            for d in range(1, 7)]  # fmt: skip
    quiet = Phase("a quiet week later", clock_ms=T0 + 8 * DAY)
    return [setup, day0, late, news, *week, quiet]


EXPECTED = [
    Expected("u-de-cart", "cart_abandoned", ("Jonas", "2 Artikel", f"218,90{NBSP}€"), IMG.format("hike-boot")),
    Expected("u-en-cart", "cart_abandoned", ("Maya", "Camp Mug (€12.50)"), IMG.format("camp-mug"), ("Lamp",)),
    Expected(
        "u-drop", "price_drop", ("Price drop on Games #i3007", "Now €119.02, was €148.78."), IMG.format("game-3007")
    ),
    Expected("u-stock", "back_in_stock", ("Back in stock: Desk Lamp", "for €34.00"), IMG.format("lamp")),
    Expected(
        "u-fan", "favourite_category_arrival", ("New in games", "Board Game Deluxe, €59.00"), IMG.format("board-deluxe")
    ),
    Expected("u-new", "welcome", ("Welcome, Hiro 👋",)),
    Expected("u-anon", "welcome", ("Welcome 👋",), None, (", there", "None")),
    Expected("u-loyal", "tenth_purchase", ("10 orders!", "Emma", "Espresso Cup"), IMG.format("espresso")),
    Expected("u-loyal", "big_spender_week", ("€550.00 of orders this week",)),
    Expected("u-streak", "daily_streak", ("7 days in a row", "Farid")),
    Expected("u-lapsed", "reengage", ("We miss you, Greta", "Steel Kettle for €45.00"), IMG.format("steel-kettle")),
    Expected("u-anniv", "signup_anniversary", ("Happy anniversary, Chloé", "2 years together")),
]


def decisions_yaml() -> str:
    """The shipped policies and templates, minus what would hold pushes back here: holdouts, quiet hours,
    send hours and the budget (each tested on its own elsewhere)."""
    raw = yaml.safe_load((ROOT / "streams" / "templates" / "decisions.yaml").read_text())
    raw["default_holdout_pct"] = 0
    raw["quiet_hours"] = {"enabled": False}
    raw["budget"] = {"max": 100, "per": "24h", "min_gap": "0s"}
    for policy in raw["triggers"].values():
        policy["holdout_pct"] = 0
        policy.pop("send_hour", None)
        for variant in (policy.get("variants") or {}).values():
            variant.pop("send_hour", None)
    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


def check(pushes: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    """Every expectation against the pushes received, by (user, trigger): what is missing or wrong."""
    problems = []
    for want in EXPECTED:
        push = pushes.get((want.user_id, want.trigger_id))
        if push is None:
            problems.append(f"{want.user_id}/{want.trigger_id}: no push")
            continue
        text = f"{push['title']} | {push['body']}"
        problems += [f"{want.user_id}/{want.trigger_id}: {s!r} not in {text!r}" for s in want.contains if s not in text]
        problems += [f"{want.user_id}/{want.trigger_id}: {s!r} in {text!r}" for s in want.absent if s in text]
        if push.get("image_url") != want.image_url:
            problems.append(f"{want.user_id}/{want.trigger_id}: image {push.get('image_url')!r} != {want.image_url!r}")
    return problems
