"""A fixed scenario through Runtime with the example triggers and decisions, dumped canonically."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from schemas.codec import encode, to_json
from schemas.records import BehaviorEvent, CatalogItem, DeadLetter, UserProfile
from streams.bench import workload
from streams.decisions import load_config
from streams.engine.config import load_catalogue
from streams.engine.engine import Engine
from streams.engine.state import DAY_MS
from streams.pipeline.firings import policies
from streams.pipeline.records import Side, UserRecord
from streams.pipeline.runtime import Runtime
from streams.state.db import MemoryDB
from streams.state.keys import CLOCK, ITEM, SHELF, SIDE, USER
from tests.support.partitions import key_per_partition, partition_of
from tests.support.records import event

ROOT = Path(__file__).resolve().parents[3]
PARTITIONS = 4
HOUR = 3_600_000
MINUTE = 60_000
T0 = workload.BASE_TIME_MS


Stores = dict[int, MemoryDB]


def runtime(table: Stores, *, replay: bool = True) -> Runtime:
    catalogue = load_catalogue((ROOT / "streams" / "triggers.yaml").read_text())
    config = load_config(ROOT / "streams" / "templates" / "decisions.yaml")
    return Runtime(
        Engine(catalogue), config, policies(catalogue), lambda p: table.setdefault(p, MemoryDB()), replay=replay,
        allowed_lateness_ms=60_000,
        max_value_bytes=65536,
    )  # fmt: skip


def ev(user: str, type_: str, at: int, n: int, **kw: Any) -> BehaviorEvent:
    return event(user, type_, at, event_id=f"g-{n}", **kw)


def _story(start: int) -> list[Any]:
    """Real-looking inputs: signups with profiles, carts then purchases, milestones, catalogue fan-out."""
    out: list[Any] = []
    n = 0

    def add(user: str, type_: str, at: int, **kw: Any) -> None:
        nonlocal n
        n += 1
        out.append(ev(user, type_, at, n, **kw))

    for i, (zone, locale) in enumerate([("Europe/Berlin", "de"), ("America/New_York", "en"), ("Asia/Tokyo", "fr")]):
        user = f"s{i}"
        signup = start - 400 * DAY_MS + i * HOUR
        out.append(UserProfile(user_id=user, first_name=f"Ann{i}", locale=locale, time_zone=zone, country="DE",
                               platform="android", signup_ms=signup, updated_at_ms=start))  # fmt: skip
        add(user, "signup", start + i * MINUTE)
    t = start + HOUR
    # carts then a purchase of one cart; another user abandons two carts; a whole-basket purchase
    add("s0", "view", t, item_id="i1", category="c1", price=10.0)
    add("s0", "cart", t + MINUTE, item_id="i1", category="c1", cart_id="k1", price=10.0)
    add("s0", "cart", t + 2 * MINUTE, item_id="i2", category="c1", cart_id="k2", price=20.0)
    add("s0", "purchase", t + 5 * MINUTE, item_id="i1", category="c1", cart_id="k1", price=10.0, quantity=2)
    add("s1", "cart", t + 3 * MINUTE, item_id="i3", category="c2", cart_id="k3", price=5.0)
    add("s1", "cart", t + 4 * MINUTE, item_id="i4", category="c2", cart_id="k4", price=5.0)
    add("s2", "cart", t + 4 * MINUTE, item_id="i5", category="c3", cart_id="k5", price=7.0)
    add("s2", "purchase", t + 6 * MINUTE, item_id="i5", category="c3", price=7.0)
    # ten purchases and a big week for one user; a late event
    for k in range(11):
        add("m1", "purchase", t + 10 * MINUTE + k * 2 * MINUTE, item_id=f"p{k}", category="c9", creator="brand",
            price=60.0 + k, quantity=1)  # fmt: skip
    add("m1", "view", t - 3 * HOUR, item_id="old", category="c9")
    # a week of daily app opens
    for d in range(8):
        add("st", "app_open", t + d * DAY_MS + 5 * MINUTE)
        add("clock", "view", t + d * DAY_MS + 10 * MINUTE, item_id="x")
    # catalogue fan-out: affinity for c9 and brand, recent items, a price drop, back in stock
    cat_t = t + 8 * DAY_MS
    out.append(CatalogItem(item_id="new1", kind="new_arrival", category="c9", creator="brand", title="New",
                           price=99.0, event_time_ms=cat_t))  # fmt: skip
    out.append(CatalogItem(item_id="i1", kind="price_drop", category="c1", price=5.0, previous_price=10.0,
                           event_time_ms=cat_t + MINUTE))  # fmt: skip
    out.append(CatalogItem(item_id="x", kind="back_in_stock", event_time_ms=cat_t + 2 * MINUTE))
    out.append(CatalogItem(item_id="i3", kind="price_drop", price=9.0, previous_price=5.0, event_time_ms=cat_t))
    # time passes: inactivity stages, onboarding steps, deferred jobs
    for k, gap in enumerate([9 * DAY_MS, 20 * DAY_MS, 32 * DAY_MS, 40 * DAY_MS, 380 * DAY_MS]):
        for user in key_per_partition("clock", PARTITIONS):
            add(user, "view", t + gap + k, item_id="y")
    return out


def _bench(count: int, users: int) -> list[Any]:
    return list(workload.records(count, users, seed=11))


def _clock_pushes(start: int, n0: int) -> list[Any]:
    out = []
    for k, gap in enumerate([45 * MINUTE, 3 * HOUR, 8 * DAY_MS, 31 * DAY_MS]):
        for p in range(PARTITIONS * 3):
            out.append(ev(f"push{p}", "view", start + gap + k, n0 + k * 100 + p, item_id="z"))
    return out


def _row(record: Any, result: Any) -> dict[str, Any]:
    return {
        "in": type(record).__name__ + ":" + str(getattr(record, "event_id", None) or getattr(record, "item_id", "")),
        "firings": [[f.user_id, f.trigger_id, f.instance, f.at_ms, sorted(f.data.items())] for f in result.firings],
        "decisions": [to_json(d) for d in result.decisions],
        "jobs": [to_json(j) for j in result.jobs],
    }


def _state_dump(table: Stores) -> dict[str, Any]:
    """Every partition's records, decoded (the indexes are left out: they follow from the records)."""
    out: dict[str, Any] = {}
    for part, db in sorted(table.items()):
        for key, body in db.data.items():
            kind = key[:1]
            rest = key[1:].decode() if kind in (ITEM, SHELF, SIDE, USER) else ""
            if key == CLOCK:
                out[f"\x00clock{part}"] = body.decode()
            elif kind in (ITEM, SHELF):
                out[f"catalog:{part}|{'i' if kind == ITEM else 's'}:{rest}"] = [part, json.loads(body)]
            elif kind == SIDE:
                side = Side.from_bytes(body)
                out["side:" + rest] = [
                    part, side.decisions.to_dict(), side.timers, None if side.profile is None else to_json(side.profile)
                ]  # fmt: skip
            elif kind == USER:
                out["state:" + rest] = [part, UserRecord.decode(rest, body, None).state.to_dict()]
    return dict(sorted(out.items()))


def _feed(rt: Runtime, table: Stores, inputs: list[Any], rows: list[Any], wall: int, every: int) -> None:
    for i, record in enumerate(inputs):
        part = 0 if isinstance(record, CatalogItem) else partition_of(record.user_id, PARTITIONS)
        kind = {"BehaviorEvent": "event", "UserProfile": "profile", "CatalogItem": "catalog"}[type(record).__name__]
        checked = rt.read(kind, "in", part, i, b"k", encode(record), wall)
        if isinstance(checked, DeadLetter):
            rows.append({"in": "dead", "error": checked.error})
            continue
        if isinstance(record, CatalogItem):
            for p in range(PARTITIONS):  # a catalogue update reaches every partition (fan-out topic)
                rows.append(_row(record, rt.handle(p, checked, wall)))
        else:
            rows.append(_row(record, rt.handle(part, checked, wall)))
        if i % every == every - 1:
            rt.checkpoint()


def scenario() -> dict[str, Any]:
    """Run everything; return rows (per input, in order) and the decoded table."""
    table: Stores = {}
    rows: list[Any] = []
    wall = T0 + 1000 * DAY_MS
    bench = _bench(4000, 300)
    last = bench[-1].event_time_ms
    rt = runtime(table)
    _feed(rt, table, bench[:2500], rows, wall, 500)
    rt.checkpoint()
    rt = runtime(table)  # a restart: everything read back from the stores
    _feed(rt, table, bench[2500:] + _clock_pushes(last, 10_000), rows, wall, 700)
    _feed(rt, table, _story(last + 40 * DAY_MS), rows, wall, 13)
    rt.checkpoint()
    # live mode: wall-clock ticks move time for idle partitions
    live_table: Stores = {}
    live = runtime(live_table, replay=False)
    story = _story(T0)
    _feed(live, live_table, story[:20], rows, T0, 5)
    for k in range(1, 6):
        for p in range(PARTITIONS):
            rows.append(_row(f"tick{k}", live.handle(p, None, T0 + k * 2 * DAY_MS)))
    live.checkpoint()
    return {"rows": rows, "table": _state_dump(table), "live_table": _state_dump(live_table)}


def summary(dump: dict[str, Any]) -> dict[str, Any]:
    """Readable counts plus the sha256 of the canonical dump."""
    text = json.dumps(dump, sort_keys=True, separators=(",", ":"))
    outcomes = Counter(d["outcome"] for r in dump["rows"] for d in r["decisions"])
    return {
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "rows": len(dump["rows"]),
        "firings": sum(len(r["firings"]) for r in dump["rows"]),
        "decisions": dict(sorted(outcomes.items())),
        "jobs": sum(len(r["jobs"]) for r in dump["rows"]),
        "triggers_fired": dict(sorted(Counter(f[1] for r in dump["rows"] for f in r["firings"]).items())),
        "states": sum(1 for k in dump["table"] if k.startswith("state:")),
        "sides": sum(1 for k in dump["table"] if k.startswith("side:")),
        "rows_sha256": hashlib.sha256(json.dumps(dump["rows"], sort_keys=True).encode()).hexdigest(),
        "table_sha256": hashlib.sha256(json.dumps(dump["table"], sort_keys=True).encode()).hexdigest(),
    }


if __name__ == "__main__":  # regenerate: python -m tests.unit.pipeline.golden > golden_fixture.json [full dump path]
    import sys

    result = scenario()
    if len(sys.argv) > 1:  # the whole canonical dump, one row per line, for diffing two versions
        Path(sys.argv[1]).write_text("\n".join(json.dumps(r, sort_keys=True) for r in result["rows"]) + "\n"
                                     + json.dumps(result["table"], sort_keys=True, indent=0) + "\n"
                                     + json.dumps(result["live_table"], sort_keys=True, indent=0))  # fmt: skip
    print(json.dumps(summary(result), indent=2, sort_keys=True))
