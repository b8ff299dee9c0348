"""What a template sees: the user, the item, the cart, recommendations and the trigger's numbers; pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas.records import UserProfile
from streams.decisions.model import Candidate


class Fields(dict[str, Any]):
    """A record's fields for templates: a field it does not have reads as None, so `{% if item.title %}`
    works on any item, and a typo shows up in `nudge validate` as a "None" in the text."""

    def __missing__(self, key: str) -> None:
        return None


# Numbers a firing's event carries as text, given to templates as numbers (milestones, streaks, inactivity).
NUMBERS = {"count": int, "total": float, "days": int, "years": int, "stage": int, "step": int}


def _number(kind: type, value: Any) -> int | float | None:
    try:
        return kind(float(value)) if kind is int else float(value)
    except (TypeError, ValueError):
        return None


def _line_total(lines: Sequence[dict[str, Any]]) -> float:
    total = 0.0
    for line in lines:
        price, qty = line.get("price"), line.get("quantity") or 1
        if isinstance(price, int | float) and isinstance(qty, int | float):
            total += price * qty
    return round(total, 2)


def template_context(
    firing: Candidate, profile: UserProfile | None, discount_code: str | None, default_currency: str
) -> dict[str, Any]:
    """Every variable a template may use (see templates.KNOWN_VARIABLES)."""
    cart = [Fields(line) for line in firing.cart]
    item = Fields(firing.item)
    currency = next(
        (c for c in (*(line["currency"] for line in cart), item["currency"], firing.event.get("currency")) if c),
        default_currency,
    )
    first = (profile.first_name or "").strip() if profile else ""
    context = {
        "user": {
            "first_name": first or None,
            "locale": profile.locale if profile else None,
            "country": profile.country if profile else None,
            "attributes": dict(profile.attributes) if profile else {},
        },
        "first_name": first,
        "event": Fields(firing.event),
        "item": item,
        "cart": cart,
        "cart_count": sum(int(line.get("quantity") or 1) for line in cart),
        "cart_total": _line_total(cart),
        "currency": currency,
        "recommendations": [Fields(r) for r in firing.recommendations],
        "discount_code": discount_code,
    }
    for name, kind in NUMBERS.items():
        context[name] = _number(kind, firing.event.get(name))
    return context
