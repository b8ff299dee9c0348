"""The product catalogue as the engine knows it: the latest view of each item, merged from catalog updates; pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

import orjson

from streams.engine.errors import StateError

NEW_ARRIVAL, PRICE_DROP, BACK_IN_STOCK = "new_arrival", "price_drop", "back_in_stock"
# Items a shelf remembers per category or creator: enough for a few recommendations, small to store.
SHELF_SIZE = 8
# Fields a message may show; kept from the last update that had them.
SHOWN = ("title", "image_url", "price", "previous_price", "currency", "category", "creator", "deep_link", "in_stock")


class UpdateLike(Protocol):
    """The fields of a CatalogItem the catalogue reads."""

    item_id: str
    kind: str
    category: str | None
    creator: str | None
    title: str | None
    price: float | None
    previous_price: float | None
    currency: str | None
    image_url: str | None
    deep_link: str | None
    event_time_ms: int


@dataclass(frozen=True, slots=True)
class Item:
    """What the catalogue knows of one item."""

    item_id: str
    title: str | None = None
    image_url: str | None = None
    price: float | None = None
    previous_price: float | None = None
    currency: str | None = None
    category: str | None = None
    creator: str | None = None
    deep_link: str | None = None
    in_stock: bool | None = None
    updated_ms: int = 0

    def to_bytes(self) -> bytes:
        return orjson.dumps({k: v for k, v in asdict(self).items() if v is not None})

    @classmethod
    def from_bytes(cls, raw: bytes) -> Item:
        try:
            return cls(**orjson.loads(raw))
        except (ValueError, TypeError) as exc:
            raise StateError(f"bad catalogue item: {exc}") from exc

    def shown(self) -> dict[str, Any]:
        """The fields a message can use, without the empty ones."""
        return {k: v for k in ("item_id", *SHOWN) if (v := getattr(self, k)) is not None}


def merge(known: Item | None, update: UpdateLike) -> Item:
    """The item after an update: fields the update carries win, the others stay as they were."""
    item = known or Item(update.item_id)
    changes: dict[str, Any] = {
        name: value for name in SHOWN if name != "in_stock" and (value := getattr(update, name, None)) is not None
    }
    in_stock = getattr(update, "in_stock", None)
    if update.kind == BACK_IN_STOCK:
        in_stock = True
    if in_stock is not None:
        changes["in_stock"] = in_stock
    if update.kind == PRICE_DROP and update.previous_price is None and item.price is not None:
        if update.price is not None and update.price < item.price:
            changes["previous_price"] = item.price  # the drop is from the price we knew
    elif update.kind != PRICE_DROP and "price" in changes and update.previous_price is None:
        changes["previous_price"] = None  # a plain price change is no drop to announce
    changes["updated_ms"] = max(item.updated_ms, update.event_time_ms)
    return replace(item, **changes)


def is_drop(item: Item) -> bool:
    """Whether the item's price is below the price it had before."""
    return item.price is not None and item.previous_price is not None and item.price < item.previous_price


def shelf_keys(item: Item) -> list[str]:
    """The affinity keys ("c:category", "r:creator") whose shelves show this item."""
    keys = []
    if item.category is not None:
        keys.append(f"c:{item.category}")
    if item.creator is not None:
        keys.append(f"r:{item.creator}")
    return keys


def on_shelf(shelf: list[str], item_id: str) -> list[str]:
    """The shelf with `item_id` put in front (newest first, each once, bounded)."""
    return [item_id, *(i for i in shelf if i != item_id)][:SHELF_SIZE]
