"""Open carts: lines from cart/remove/purchase events, bounds, and what a cart reminder carries."""

from __future__ import annotations

from typing import Any

from streams.engine.carts import CART_RETENTION_MS, MAX_BOUGHT, MAX_CARTS, MAX_LINES, apply_cart_event, cart_lines
from streams.engine.state import UserState
from tests.unit.engine.support import DAY, MIN, T0, Ev, engine

CART_REMINDER = """
triggers:
  - {id: cart_abandoned, kind: absence, on: cart, stop: purchase, key: cart_id, within: 30m}
"""


def apply(carts: dict[str, Any], bought: list[str], *events: Ev) -> list[str | None]:
    return [apply_cart_event(carts, bought, e) for e in events]


def test_cart_events_add_lines_and_quantities_and_keep_what_the_event_says_of_the_item() -> None:
    carts: dict[str, Any] = {}
    added = [
        Ev("cart", T0, item_id="a", cart_id="k", price=10.0, quantity=2),
        Ev("cart", T0 + MIN, item_id="b", cart_id="k", price=5.5),
        Ev("cart", T0 + 2 * MIN, item_id="a", cart_id="k"),
    ]
    apply(carts, [], *added)
    assert cart_lines(carts, "k") == [
        {"item_id": "a", "quantity": 3, "price": 10.0},
        {"item_id": "b", "quantity": 1, "price": 5.5},
    ]


def test_remove_from_cart_takes_out_a_quantity_or_the_line_and_reports_an_emptied_cart() -> None:
    carts: dict[str, Any] = {}
    apply(carts, [], Ev("cart", T0, item_id="a", cart_id="k", quantity=3), Ev("cart", T0, item_id="b", cart_id="k"))
    assert apply(carts, [], Ev("remove_from_cart", T0 + MIN, item_id="a", cart_id="k", quantity=2)) == [None]
    assert cart_lines(carts, "k") == [{"item_id": "a", "quantity": 1}, {"item_id": "b", "quantity": 1}]
    assert apply(carts, [], Ev("remove_from_cart", T0 + MIN, item_id="a", cart_id="k")) == [None]
    assert apply(carts, [], Ev("remove_from_cart", T0 + MIN, item_id="zzz", cart_id="k")) == [None]
    assert apply(carts, [], Ev("remove_from_cart", T0 + MIN, item_id="b", cart_id="k")) == ["k"]
    assert carts == {}


def test_a_purchase_closes_its_cart_or_every_cart_and_remembers_what_was_bought() -> None:
    carts: dict[str, Any] = {}
    bought: list[str] = []
    apply(carts, bought, Ev("cart", T0, item_id="a", cart_id="k1"), Ev("cart", T0, item_id="b", cart_id="k2"),
          Ev("cart", T0, item_id="c"))  # fmt: skip
    apply(carts, bought, Ev("purchase", T0 + MIN, cart_id="k1"))
    assert set(carts) == {"k2", "user"} and bought == ["a"]
    apply(carts, bought, Ev("purchase", T0 + 2 * MIN, item_id="d"))  # no cart id: the whole basket
    assert carts == {} and sorted(bought) == ["a", "b", "c", "d"]


def test_carts_lines_and_bought_items_are_bounded() -> None:
    carts: dict[str, Any] = {}
    bought: list[str] = []
    apply(carts, bought, *(Ev("cart", T0 + i, item_id=f"i{i}", cart_id="k") for i in range(MAX_LINES + 5)))
    assert [line["item_id"] for line in cart_lines(carts, "k")] == [f"i{i}" for i in range(5, MAX_LINES + 5)]
    apply(carts, bought, *(Ev("cart", T0 + 100 + i, item_id="x", cart_id=f"c{i}") for i in range(MAX_CARTS + 2)))
    assert len(carts) == MAX_CARTS and "k" not in carts  # the carts touched least recently go first
    apply(carts, bought, *(Ev("purchase", T0 + 200 + i, item_id=f"p{i}") for i in range(MAX_BOUGHT + 3)))
    assert bought == [f"p{i}" for i in range(3, MAX_BOUGHT + 3)]


def test_a_cart_left_alone_past_the_retention_is_forgotten() -> None:
    carts: dict[str, Any] = {}
    apply(carts, [], Ev("cart", T0, item_id="old", cart_id="k1"))
    apply(carts, [], Ev("cart", T0 + CART_RETENTION_MS + DAY, item_id="new", cart_id="k2"))
    assert set(carts) == {"k2"}


def test_a_cart_reminder_carries_the_open_carts_lines() -> None:
    e = engine(CART_REMINDER)
    state = UserState("u1")
    for ev in (Ev("cart", T0, item_id="a", cart_id="k", price=10.0, quantity=2),
               Ev("cart", T0 + MIN, item_id="b", cart_id="k", price=4.0)):  # fmt: skip
        state, _ = e.on_event(state, ev, ev.event_time_ms)
    state, firings = e.on_time(state, T0 + 40 * MIN)
    (firing,) = firings
    assert [(line["item_id"], line["quantity"]) for line in firing.cart] == [("a", 2), ("b", 1)]


def test_emptying_a_cart_cancels_its_reminder() -> None:
    e = engine(CART_REMINDER)
    state = UserState("u1")
    for ev in (Ev("cart", T0, item_id="a", cart_id="k"), Ev("remove_from_cart", T0 + MIN, item_id="a", cart_id="k")):
        state, _ = e.on_event(state, ev, ev.event_time_ms)
    state, firings = e.on_time(state, T0 + 40 * MIN)
    assert firings == [] and state.timers == {} and state.carts == {}
