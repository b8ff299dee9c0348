"""Small builders for pure-engine tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.engine.config import load_catalogue
from streams.engine.engine import Engine

MIN = 60_000
HOUR = 60 * MIN
DAY = 24 * HOUR
T0 = 1_700_000_000_000 - 1_700_000_000_000 % DAY  # a UTC midnight


@dataclass
class Ev:
    type: str
    event_time_ms: int
    user_id: str = "u1"
    event_id: str = ""
    item_id: str | None = None
    category: str | None = None
    creator: str | None = None
    price: float | None = None
    cart_id: str | None = None
    quantity: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.event_id = self.event_id or f"{self.user_id}-{self.type}-{self.event_time_ms}"


@dataclass
class Item:
    item_id: str
    kind: str
    event_time_ms: int
    category: str | None = None
    creator: str | None = None
    price: float | None = None
    previous_price: float | None = None


@dataclass
class Profile:
    user_id: str
    country: str | None = None
    signup_ms: int | None = None
    updated_at_ms: int = 0
    attributes: dict[str, str] = field(default_factory=dict)


def engine(yaml_text: str) -> Engine:
    return Engine(load_catalogue(yaml_text))
