"""Recommendations: shelves of the user's top tastes, then items they looked at; only real, buyable items."""

from __future__ import annotations

from streams.engine.items import Item
from streams.engine.recommend import recommend, top_tastes
from streams.engine.state import UserState
from tests.unit.engine.support import DAY, T0

CATALOGUE = {
    i: Item(i, title=f"Title {i}", price=10.0)
    for i in ("new-shoe", "new-book", "viewed-1", "viewed-2", "bought", "cart-line")
}
CATALOGUE["gone"] = Item("gone", title="Gone", in_stock=False)
CATALOGUE["untitled"] = Item("untitled")
SHELVES = {"c:shoes": ["gone", "new-shoe", "bought"], "c:books": ["new-book", "untitled"], "c:toys": ["nope"]}


def user() -> UserState:
    state = UserState("u1")
    state.affinity = {"c:books": [4.0, T0], "c:shoes": [9.0, T0], "c:toys": [1.0, T0 - 60 * DAY]}
    state.recent_items = {"viewed-1": T0 - 2 * DAY, "viewed-2": T0 - DAY, "unknown": T0}
    state.bought = ["bought"]
    return state


def ids(items: list[dict]) -> list[str]:
    return [i["item_id"] for i in items]


def test_top_tastes_are_ranked_by_decayed_affinity() -> None:
    assert top_tastes(user(), T0, 7 * DAY) == ["c:shoes", "c:books", "c:toys"]


def test_arrivals_on_top_taste_shelves_come_first_then_recently_viewed_items() -> None:
    found = recommend(user(), T0, 7 * DAY, CATALOGUE.get, lambda k: SHELVES.get(k, []), limit=5)
    assert ids(found) == ["new-shoe", "new-book", "viewed-2", "viewed-1"]  # no gone, bought, untitled or unknown
    assert found[0] == {"item_id": "new-shoe", "title": "Title new-shoe", "price": 10.0}


def test_excluded_items_and_the_limit_are_respected() -> None:
    found = recommend(user(), T0, 7 * DAY, CATALOGUE.get, lambda k: SHELVES.get(k, []), exclude={"new-shoe"}, limit=2)
    assert ids(found) == ["new-book", "viewed-2"]
