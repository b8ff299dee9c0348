"""Readers that turn input files (contract JSONL, Taobao UserBehavior, Retailrocket) into BehaviorEvents."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from connectors.ingest.errors import ReplayError
from schemas.codec import from_json
from schemas.errors import SchemaError
from schemas.records import BehaviorEvent
from schemas.rules import validate

FORMATS = ("jsonl", "taobao", "retailrocket")
TAOBAO_TYPES = {"pv": "view", "cart": "cart", "fav": "fav", "buy": "purchase"}
RETAILROCKET_TYPES = {"view": "view", "addtocart": "cart", "transaction": "purchase"}
RETAILROCKET_HEADER = "timestamp,visitorid,event,itemid,transactionid"
# Cart abandonment correlates cart and purchase on cart_id; these datasets have no carts, so each
# user's single implicit cart is their user id.
CART_TYPES = frozenset({"cart", "purchase"})


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input line that did not become an event, and why."""

    line_no: int
    line: str
    reason: str


Parsed = BehaviorEvent | Rejected
LineParser = Callable[[str, int, str], BehaviorEvent]


def detect_format(path: Path) -> str:
    """Guess the format from the first non-empty line."""
    with path.open(encoding="utf-8", errors="replace") as f:
        first = next((line.strip() for line in f if line.strip()), "")
    if first.startswith("{"):
        return "jsonl"
    if first.lower() == RETAILROCKET_HEADER:
        return "retailrocket"
    parts = first.split(",")
    if len(parts) == 5 and parts[3] in TAOBAO_TYPES:
        return "taobao"
    raise ReplayError(f"{path}: cannot tell the format from its first line {first[:80]!r}; pass --format")


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not an integer") from None


def parse_taobao(line: str, line_no: int, source: str) -> BehaviorEvent:
    """user_id,item_id,category_id,behavior_type,timestamp (seconds)."""
    parts = line.split(",")
    if len(parts) != 5:
        raise ValueError(f"expected 5 comma-separated fields, got {len(parts)}")
    user, item, category, behavior, ts = (p.strip() for p in parts)
    if behavior not in TAOBAO_TYPES:
        raise ValueError(f"unknown behavior_type {behavior!r} (expected one of {sorted(TAOBAO_TYPES)})")
    kind = TAOBAO_TYPES[behavior]
    return BehaviorEvent(
        event_id=f"taobao:{source}:{line_no}",
        user_id=str(_int(user, "user_id")),
        type=kind,
        event_time_ms=_int(ts, "timestamp") * 1000,
        item_id=str(_int(item, "item_id")),
        category=str(_int(category, "category_id")),
        cart_id=user if kind in CART_TYPES else None,
    )


def parse_retailrocket(line: str, line_no: int, source: str) -> BehaviorEvent:
    """timestamp (ms),visitorid,event,itemid,transactionid."""
    parts = line.split(",")
    if len(parts) != 5:
        raise ValueError(f"expected 5 comma-separated fields, got {len(parts)}")
    ts, visitor, event, item, transaction = (p.strip() for p in parts)
    if event not in RETAILROCKET_TYPES:
        raise ValueError(f"unknown event {event!r} (expected one of {sorted(RETAILROCKET_TYPES)})")
    kind = RETAILROCKET_TYPES[event]
    return BehaviorEvent(
        event_id=f"retailrocket:{source}:{line_no}",
        user_id=str(_int(visitor, "visitorid")),
        type=kind,
        event_time_ms=_int(ts, "timestamp"),
        item_id=str(_int(item, "itemid")),
        cart_id=visitor if kind in CART_TYPES else None,
        properties={"transaction_id": transaction} if transaction else {},
    )


def parse_jsonl(line: str, line_no: int, source: str) -> BehaviorEvent:
    """One BehaviorEvent in the contract's JSON shape."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    return from_json(BehaviorEvent, obj)


PARSERS: dict[str, LineParser] = {"jsonl": parse_jsonl, "taobao": parse_taobao, "retailrocket": parse_retailrocket}


def read_events(path: Path, fmt: str = "auto", limit: int | None = None) -> Iterator[tuple[int, Parsed]]:
    """(1-based line number, BehaviorEvent or Rejected with the reason) for every data line of `path`."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in PARSERS:
        raise ReplayError(f"unknown format {fmt!r}; expected auto or one of {list(FORMATS)}")
    parse = PARSERS[fmt]
    source = path.name
    rows = 0
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as f:
        for line_no, raw in enumerate(f, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or (fmt == "retailrocket" and line.strip().lower() == RETAILROCKET_HEADER):
                continue
            if limit is not None and rows >= limit:
                return
            rows += 1
            try:
                event = parse(line, line_no, source)
                validate(event)  # the contract's rules (ids, plausible times); the clock check is the publisher's
                yield line_no, event
            except (ValueError, SchemaError) as exc:
                reason = str(exc)
                if not raw.endswith("\n"):
                    reason += " (last line has no newline: truncated?)"
                yield line_no, Rejected(line_no, line, reason)
