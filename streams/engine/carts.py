"""Open carts: the lines a cart reminder shows, kept from cart, remove_from_cart and purchase events; pure."""

from __future__ import annotations

from typing import Any

from streams.engine.matching import EventLike

CART = "cart"
REMOVE_FROM_CART = "remove_from_cart"
PURCHASE = "purchase"
CART_TYPES = frozenset({CART, REMOVE_FROM_CART, PURCHASE})
# A cart without cart_id is the user's one cart, the same correlation an absence trigger keyed by cart_id uses.
DEFAULT_CART = "user"
# Bounds keep a heavy shopper's state small: a reminder shows a few lines, never a warehouse.
MAX_LINES = 20
MAX_CARTS = 3
MAX_BOUGHT = 16
# A cart left alone this long is gone (shops expire them too); its reminder, if any, fired long ago.
CART_RETENTION_MS = 30 * 86_400_000
# Positions in a stored line (a list, not a dict, to keep the per-user state small).
QTY, PRICE, CURRENCY, TITLE, IMAGE, AT = range(6)


def cart_of(event: EventLike) -> str:
    """The cart an event belongs to."""
    return str(event.cart_id) if event.cart_id is not None else DEFAULT_CART


def apply_cart_event(carts: dict[str, dict[str, list[Any]]], bought: list[str], event: EventLike) -> str | None:
    """Update open carts (and bought items) from one event; return the id of a cart it emptied, else None."""
    kind, item = event.type, event.item_id
    t = event.event_time_ms
    quantity = getattr(event, "quantity", None)
    if kind == CART and item is not None:
        cart_id = cart_of(event)
        cart = carts.setdefault(cart_id, {})
        line = cart.get(item)
        if line is None:
            line = cart[item] = [0, None, None, None, None, t]
        line[QTY] += max(quantity or 1, 1)
        shown = (event.price, getattr(event, "currency", None), getattr(event, "title", None),
                 getattr(event, "image_url", None))  # fmt: skip
        for pos, value in zip((PRICE, CURRENCY, TITLE, IMAGE), shown, strict=True):
            if value is not None:
                line[pos] = value
        line[AT] = max(line[AT], t)
        _bound(carts, cart, t)
        return None
    if kind == REMOVE_FROM_CART and item is not None:
        cart_id = cart_of(event)
        found = carts.get(cart_id)
        if found is None or item not in found:
            return None
        cart, line = found, found[item]
        if quantity and quantity < line[QTY]:
            line[QTY] -= quantity
            return None
        del cart[item]
        if cart:
            return None
        del carts[cart_id]
        return cart_id
    if kind == PURCHASE:
        closed = [cart_of(event)] if event.cart_id is not None else list(carts)
        items = [i for cart_id in closed for i in carts.pop(cart_id, {})]
        if item is not None:
            items.append(item)
        for bought_item in items:  # most recent last, each once
            if bought_item in bought:
                bought.remove(bought_item)
            bought.append(bought_item)
        del bought[:-MAX_BOUGHT]
    return None


def _last_added(cart: dict[str, list[Any]]) -> int:
    return max((line[AT] for line in cart.values()), default=0)


def _bound(carts: dict[str, dict[str, list[Any]]], cart: dict[str, list[Any]], now_ms: int) -> None:
    if len(cart) > MAX_LINES:
        del cart[min(cart, key=lambda i: cart[i][AT])]
    for cart_id in [c for c, lines in carts.items() if _last_added(lines) < now_ms - CART_RETENTION_MS]:
        del carts[cart_id]
    if len(carts) > MAX_CARTS:
        del carts[min(carts, key=lambda c: _last_added(carts[c]))]


def cart_lines(carts: dict[str, dict[str, list[Any]]], cart_id: str | None) -> list[dict[str, Any]]:
    """The lines of one cart (None: every open cart) in the order they were added, as dicts without empty fields."""
    chosen = [carts.get(cart_id, {})] if cart_id is not None else list(carts.values())
    out = []
    for item_id, line in ((i, line) for cart in chosen for i, line in cart.items()):
        entry: dict[str, Any] = {"item_id": item_id, "quantity": line[QTY]}
        for name, pos in (("price", PRICE), ("currency", CURRENCY), ("title", TITLE), ("image_url", IMAGE)):
            if line[pos] is not None:
                entry[name] = line[pos]
        out.append(entry)
    return out
