"""One partition's copy of the product catalogue (items and shelves), in the partition's store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from streams.engine.items import NEW_ARRIVAL, PRICE_DROP, Item, UpdateLike, is_drop, merge, on_shelf, shelf_keys
from streams.state.keys import ITEM, SHELF

CACHE_ITEMS = 4096  # decoded items kept per partition; the store holds the rest


class CatalogView:
    """Items and shelves of one partition, read with `get` and written with `put` (the store keeps the writes
    until its checkpoint). Every partition holds the whole catalogue (catalogue updates reach every partition),
    so a firing is enriched from its own partition alone, in input order."""

    def __init__(self, get: Callable[[bytes], bytes | None], put: Callable[[bytes, bytes], None]) -> None:
        self.get = get
        self.put = put
        self._items: dict[str, Item | None] = {}
        self._shelves: dict[str, list[str]] = {}

    def item(self, item_id: str) -> Item | None:
        """What the catalogue knows of an item, or None."""
        if item_id in self._items:
            return self._items[item_id]
        raw = self.get(ITEM + item_id.encode())
        item = None if raw is None else Item.from_bytes(raw)
        if len(self._items) >= CACHE_ITEMS:
            self._items.clear()  # cheap bound; a miss costs one table read
        self._items[item_id] = item
        return item

    def shelf(self, key: str) -> list[str]:
        """Item ids on a shelf ("c:<category>" or "r:<creator>"), newest first."""
        shelf = self._shelves.get(key)
        if shelf is None:
            raw = self.get(SHELF + key.encode())
            shelf = self._shelves[key] = [] if raw is None else list(orjson.loads(raw))
        return shelf

    def apply(self, update: UpdateLike) -> Item:
        """Merge one catalogue update; new arrivals and real price drops go on their shelves."""
        item = merge(self.item(update.item_id), update)
        self._items[item.item_id] = item
        self.put(ITEM + item.item_id.encode(), item.to_bytes())
        if update.kind == NEW_ARRIVAL or (update.kind == PRICE_DROP and is_drop(item)):
            for key in shelf_keys(item):
                shelf = self._shelves[key] = on_shelf(self.shelf(key), item.item_id)
                self.put(SHELF + key.encode(), orjson.dumps(shelf))
        return item

    def enrich(self, fields: dict[str, Any]) -> dict[str, Any]:
        """An item's fields as an event or cart line has them, with what the catalogue knows filled in."""
        item_id = fields.get("item_id")
        known = self.item(str(item_id)) if item_id is not None else None
        if known is None:
            return dict(fields)
        return {**known.shown(), **{k: v for k, v in fields.items() if v is not None}}
