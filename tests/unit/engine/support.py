"""Small builders for pure-engine tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from schemas.records import UserProfile
from streams.decisions import DecisionConfig
from streams.engine.clock import StreamClock
from streams.engine.config import load_catalogue
from streams.engine.engine import Engine
from streams.pipeline.partition import PartitionRuntime
from streams.pipeline.store import PartitionStore
from streams.state.cache import RecordCache
from streams.state.db import MemoryDB

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
    title: str | None = None
    currency: str | None = None
    image_url: str | None = None
    deep_link: str | None = None
    in_stock: bool | None = None


def Profile(user_id: str, country: str | None = None, signup_ms: int | None = None, updated_at_ms: int = 0,
            attributes: dict[str, str] | None = None) -> UserProfile:  # fmt: skip
    return UserProfile(user_id=user_id, country=country, signup_ms=signup_ms, updated_at_ms=updated_at_ms,
                       attributes=attributes or {})  # fmt: skip


def engine(yaml_text: str) -> Engine:
    return Engine(load_catalogue(yaml_text))


def partition(eng: Engine, lateness: int = 0, *, replay: bool = True) -> PartitionRuntime:
    """One partition's runtime over an empty in-memory store (decisions with no policy or template)."""
    store = PartitionStore(0, MemoryDB(), RecordCache(64 << 20), eng.min_affinity if eng.recommendations else None)
    return PartitionRuntime(eng, DecisionConfig(), {}, store, StreamClock(lateness, replay=replay))
