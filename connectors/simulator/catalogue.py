"""The simulated shop's products: names, prices, pictures and links that read like a real catalogue; pure."""

from __future__ import annotations

import random
from dataclasses import dataclass

from schemas.records import CatalogItem

CURRENCY = "EUR"
IMAGE_URL = "https://img.nudge.example/items/{}.jpg"  # offline in the demo: the report draws a placeholder
LINK_URL = "https://shop.nudge.example/p/{}"
ADJECTIVES = ("Alpine", "Classic", "Urban", "Vintage", "Nordic", "Everyday", "Pro", "Soft", "Bold", "Tiny",
              "Grand", "Midnight", "Sunny", "Rustic")  # fmt: skip
NOUNS = {
    "shoes": ("Trail Runner", "Leather Boot", "Canvas Sneaker", "Hiking Boot", "Slip-on"),
    "jackets": ("Rain Jacket", "Down Parka", "Denim Jacket", "Fleece", "Windbreaker"),
    "books": ("Cookbook", "Travel Guide", "Mystery Novel", "Poetry Collection", "Atlas"),
    "games": ("Board Game", "Card Game", "Puzzle", "Dice Set", "Strategy Game"),
    "kitchen": ("Espresso Cup", "Steel Kettle", "Chef's Knife", "Cast-Iron Pan", "Tea Set"),
    "garden": ("Plant Pot", "Watering Can", "Garden Gloves", "Seed Kit", "Pruning Shears"),
    "music": ("Vinyl Record", "Headphones", "Ukulele", "Speaker", "Songbook"),
    "beauty": ("Face Cream", "Perfume", "Lip Balm", "Hair Oil", "Bath Salts"),
}


@dataclass(slots=True)
class Product:
    """One product of the simulated shop (prices change; the rest stays)."""

    item_id: str
    category: str
    price: float
    title: str = ""
    in_stock: bool = True

    def record(self, kind: str, at_ms: int, previous_price: float | None = None) -> CatalogItem:
        """This item as a catalog.updates record."""
        return CatalogItem(
            item_id=self.item_id,
            kind=kind,
            category=self.category,
            title=self.title,
            price=self.price,
            previous_price=previous_price,
            currency=CURRENCY,
            image_url=IMAGE_URL.format(self.item_id),
            deep_link=LINK_URL.format(self.item_id),
            in_stock=self.in_stock,
            event_time_ms=at_ms,
        )


def make_item(rng: random.Random, item_id: str, category: str) -> Product:
    """A product with a name from its category, e.g. "Nordic Rain Jacket", and a price."""
    title = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS[category])}"
    return Product(item_id, category, round(rng.uniform(5, 200), 2), title)
