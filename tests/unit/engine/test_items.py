"""The catalogue's view of an item: updates merged field by field, price drops, stock, shelves."""

from __future__ import annotations

from dataclasses import dataclass

from streams.engine.items import SHELF_SIZE, Item, is_drop, merge, on_shelf, shelf_keys


@dataclass
class Update:
    item_id: str
    kind: str
    event_time_ms: int = 1
    category: str | None = None
    creator: str | None = None
    title: str | None = None
    price: float | None = None
    previous_price: float | None = None
    currency: str | None = None
    image_url: str | None = None
    deep_link: str | None = None
    in_stock: bool | None = None


def test_an_update_keeps_what_it_does_not_say_and_round_trips() -> None:
    item = merge(None, Update("i1", "new_arrival", title="Red shoes", price=50.0, currency="EUR", category="shoes",
                              image_url="https://img/1.jpg"))  # fmt: skip
    item = merge(item, Update("i1", "update", event_time_ms=5, in_stock=False))
    assert (item.title, item.price, item.currency, item.image_url, item.in_stock, item.updated_ms) == (
        "Red shoes", 50.0, "EUR", "https://img/1.jpg", False, 5)  # fmt: skip
    assert Item.from_bytes(item.to_bytes()) == item
    assert shelf_keys(item) == ["c:shoes"]


def test_a_price_drop_without_a_previous_price_drops_from_the_known_one() -> None:
    item = merge(None, Update("i1", "new_arrival", price=50.0))
    dropped = merge(item, Update("i1", "price_drop", price=40.0))
    assert (dropped.price, dropped.previous_price, is_drop(dropped)) == (40.0, 50.0, True)
    raised = merge(dropped, Update("i1", "update", price=45.0))
    assert (raised.price, raised.previous_price, is_drop(raised)) == (45.0, None, False)


def test_back_in_stock_means_in_stock() -> None:
    gone = merge(None, Update("i1", "update", in_stock=False))
    assert merge(gone, Update("i1", "back_in_stock")).in_stock is True


def test_a_shelf_puts_the_newest_first_once_and_stays_bounded() -> None:
    shelf: list[str] = []
    for i in [*range(SHELF_SIZE + 3), 4]:
        shelf = on_shelf(shelf, f"i{i}")
    assert shelf[0] == "i4" and len(shelf) == SHELF_SIZE and shelf.count("i4") == 1
