"""Recommended items for one user: new arrivals and price drops they may like, items they looked at; pure."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from streams.engine.items import Item
from streams.engine.state import UserState

MAX_RECOMMENDATIONS = 3
TOP_TASTES = 3  # affinity keys whose shelves are looked at, strongest first


def top_tastes(state: UserState, now_ms: int, half_life_ms: int, n: int = TOP_TASTES) -> list[str]:
    """The user's strongest affinity keys ("c:category", "r:creator") at `now_ms`, decayed."""

    def score(key: str) -> float:
        value, as_of = state.affinity[key]
        return float(value) * 0.5 ** (max(0, now_ms - int(as_of)) / half_life_ms)

    return sorted(state.affinity, key=lambda k: (-score(k), k))[:n]


def recommend(
    state: UserState,
    now_ms: int,
    half_life_ms: int,
    item_of: Callable[[str], Item | None],
    shelf_of: Callable[[str], list[str]],
    exclude: Collection[str] = (),
    limit: int = MAX_RECOMMENDATIONS,
) -> list[dict[str, Any]]:
    """Up to `limit` real items (known to the catalogue, with a title, not out of stock, not bought lately):
    new arrivals and price drops on the shelves of the user's top tastes first, then items they viewed or
    carted, most recent first."""
    skip = {*exclude, *state.bought}
    candidates = [i for key in top_tastes(state, now_ms, half_life_ms) for i in shelf_of(key)]
    candidates += sorted(state.recent_items, key=lambda i: (-state.recent_items[i], i))
    out: list[dict[str, Any]] = []
    for item_id in candidates:
        if item_id in skip:
            continue
        skip.add(item_id)
        item = item_of(item_id)
        if item is None or not item.title or item.in_stock is False:
            continue
        out.append(item.shown())
        if len(out) == limit:
            break
    return out
