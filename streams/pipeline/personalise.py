"""What a push knows: the firing's item, cart lines and recommendations, filled in from the catalogue; pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.engine.firing import Firing
from streams.engine.recommend import recommend
from streams.engine.state import UserState
from streams.pipeline.catalog_view import CatalogView

ITEM_FIELDS = ("item_id", "title", "image_url", "price", "previous_price", "currency", "category", "creator",
               "deep_link")  # fmt: skip
NUMBERS = ("price", "previous_price")


@dataclass(frozen=True, slots=True)
class Personal:
    """The item a firing is about, its cart lines and recommended items, as template-ready dicts."""

    item: dict[str, Any] = field(default_factory=dict)
    cart: list[dict[str, Any]] = field(default_factory=list)
    recommendations: list[dict[str, Any]] = field(default_factory=list)


def _typed(name: str, value: Any) -> Any:
    if name in NUMBERS and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return value


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    """Drop empty values and images a phone cannot load (FCM shows http(s) images only)."""
    out = {k: v for k, v in fields.items() if v is not None and v != ""}
    image = out.get("image_url")
    if image is not None and not str(image).startswith(("https://", "http://")):
        del out["image_url"]
    return out


def personalise(firing: Firing, state: UserState | None, catalog: CatalogView, half_life_ms: int) -> Personal:
    """Everything the copy of one firing can show; the firing's own fields win over the catalogue's."""
    item: dict[str, Any] = {}
    if "item_id" in firing.data:
        own = {k: _typed(k, firing.data[k]) for k in ITEM_FIELDS if k in firing.data}
        item = _clean(catalog.enrich(own))
    cart = [_clean(catalog.enrich(line)) for line in firing.cart]
    recommendations: list[dict[str, Any]] = []
    if state is not None:
        exclude = {str(i) for i in (item.get("item_id"), *(line["item_id"] for line in cart)) if i is not None}
        found = recommend(state, firing.at_ms, half_life_ms, catalog.item, catalog.shelf, exclude)
        recommendations = [_clean(r) for r in found]
    return Personal(item, cart, recommendations)
