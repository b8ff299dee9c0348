"""Per-user state: small, bounded, and serialisable to a plain dict for changelog-backed tables."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import orjson

from streams.engine.errors import StateError

DAY_MS = 86_400_000
# Bounds keep a heavy user's state as small as a typical one's (changelog and restore cost).
MAX_TYPES = 32
MAX_ACTIVE_DAYS = 31
MAX_AFFINITY = 16
MAX_RECENT_ITEMS = 32
MAX_WINDOWS = 8
# Fired markers older than this (and their trigger's re-eligibility) are forgotten.
FIRED_RETENTION_MS = 90 * DAY_MS


class UserState(msgspec.Struct, array_like=True, gc=False):
    """Everything the engine remembers about one user; timers are part of it (one source of truth).

    Stored positionally (`pipeline.records`): a new field goes at the end, with a default, so records written
    before it still load. No reference cycles pass through a state (the collector does not track it).
    """

    user_id: str
    first_ms: int | None = None
    last_ms: int | None = None
    events: int = 0
    purchases: int = 0
    spend: int | float = 0.0  # an int where a test or an old record put one: the type survives a round trip
    last_by_type: dict[str, Any] = {}
    active_days: list[Any] = []
    counts: dict[str, Any] = {}
    # timer key "trigger|name" -> [due_ms, instance]
    timers: dict[str, list[Any]] = {}
    # "trigger|correlation" -> event time of the last firing (dedupe and re-eligibility)
    fired: dict[str, Any] = {}
    windows: dict[str, Any] = {}
    streaks: dict[str, Any] = {}
    sequences: dict[str, Any] = {}
    # "c:<category>" / "r:<creator>" -> [score, as_of_ms]
    affinity: dict[str, Any] = {}
    recent_items: dict[str, Any] = {}
    # cart id -> item id -> [quantity, price, currency, title, image_url, last added ms] (see carts.py)
    carts: dict[str, Any] = {}
    bought: list[Any] = []  # items bought lately, most recent last (bounded)
    profile: dict[str, Any] = {}
    late_events: int = 0

    def next_due(self) -> int | None:
        """Earliest timer deadline, or None."""
        timers = self.timers
        return min([t[0] for t in timers.values()]) if timers else None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict, leaving out empty fields (in field order)."""
        out: dict[str, Any] = {"user_id": self.user_id}
        for name, value in (
            ("first_ms", self.first_ms),
            ("last_ms", self.last_ms),
            ("events", self.events),
            ("purchases", self.purchases),
            ("spend", self.spend),
            ("last_by_type", self.last_by_type),
            ("active_days", self.active_days),
            ("counts", self.counts),
            ("timers", self.timers),
            ("fired", self.fired),
            ("windows", self.windows),
            ("streaks", self.streaks),
            ("sequences", self.sequences),
            ("affinity", self.affinity),
            ("recent_items", self.recent_items),
            ("carts", self.carts),
            ("bought", self.bought),
            ("profile", self.profile),
            ("late_events", self.late_events),
        ):
            if value:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UserState:
        """Rebuild a state from `to_dict` output."""
        try:
            return cls(**data)
        except (TypeError, ValueError) as exc:
            raise StateError(f"bad user state: {exc}") from exc

    def to_bytes(self) -> bytes:
        """Compact JSON bytes for a table value."""
        return dump_json(self.to_dict())

    @classmethod
    def from_bytes(cls, data: bytes) -> UserState:
        """Rebuild a state from `to_bytes` output (either encoder's)."""
        try:
            loaded = load_json(data)
        except ValueError as exc:
            raise StateError(f"bad user state bytes: {exc}") from exc
        return cls.from_dict(loaded)


def dump_json(data: Any) -> bytes:
    """Compact JSON: orjson's, or json's where orjson cannot say the same thing (NaN and Infinity, which orjson
    writes as null; non-str keys; ints over 64 bits; tuples read back as lists)."""
    try:
        out = orjson.dumps(data)
    except TypeError:
        out = b""
    # a null may be a None (common: unknown titles, images) or a non-finite float: only reading back tells
    if not out or (b"null" in out and orjson.loads(out) != data):
        out = json.dumps(data, separators=(",", ":")).encode()
    return out


def load_json(data: bytes) -> Any:
    """Read `dump_json` output, or json's (NaN, Infinity and lone surrogates are json's, not orjson's)."""
    try:
        return orjson.loads(data)
    except ValueError:
        return json.loads(data)


def trim_dict(values: dict[str, Any], limit: int, rank: Any) -> None:
    """Drop the lowest-ranked entries until `values` has at most `limit` entries."""
    if len(values) > limit:
        for key in sorted(values, key=lambda k: rank(values[k]))[: len(values) - limit]:
            del values[key]


def expire_fired(state: UserState, now_ms: int) -> None:
    """Forget fired markers older than the retention."""
    old = [k for k, t in state.fired.items() if t < now_ms - FIRED_RETENTION_MS]
    for key in old:
        del state.fired[key]
