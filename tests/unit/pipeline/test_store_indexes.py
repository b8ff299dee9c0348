"""The store's timer and fan-out indexes hold exactly what its records say, after every checkpoint.

The indexes are ordered keys beside the records (streams/state/keys.py); a key left behind would fire a timer or
fan a catalogue update out to a user for nothing, a key missing would lose one. Each record says what its keys
must be (its saved dues; its fan-out keys are `Engine.index_keys` of its state), so the whole store can be checked
against itself.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from streams.bench import workload
from streams.engine.engine import Engine
from streams.pipeline.records import UserRecord
from streams.pipeline.runtime import Runtime
from streams.state.db import MemoryDB
from streams.state.keys import COUNTS, DUE_DECISION, DUE_ENGINE, FANOUT, USER, due_key, fan_key
from tests.unit.pipeline import golden


def stored_index_keys(db: MemoryDB) -> set[bytes]:
    return {k for k in db.data if k[:2] in (DUE_ENGINE, DUE_DECISION) or k[:1] == FANOUT}


def keys_the_records_imply(db: MemoryDB, engine: Engine) -> set[bytes]:
    keys: set[bytes] = set()
    for key, body in db.data.items():
        if key[:1] != USER:
            continue
        user_id = key[1:].decode()
        record = UserRecord.decode(user_id, body, None)
        engine_due, decision_due = record.saved
        if engine_due is not None:
            keys.add(due_key(DUE_ENGINE, engine_due, user_id))
        if decision_due is not None:
            keys.add(due_key(DUE_DECISION, decision_due, user_id))
        keys.update(fan_key(k, user_id) for k in engine.index_keys(record.state))
    return keys


def check(rt: Runtime, table: golden.Stores, when: str) -> Counter[bytes]:
    """Assert every partition's index keys are those its records imply; the keys of each index, counted."""
    seen: Counter[bytes] = Counter()
    for part, db in table.items():
        stored = stored_index_keys(db)
        implied = keys_the_records_imply(db, rt.engine)
        extra, missing = sorted(stored - implied), sorted(implied - stored)
        assert not extra and not missing, (
            f"{when}, partition {part}: {len(extra)} index keys no record implies (e.g. {extra[:3]}), "
            f"{len(missing)} missing (e.g. {missing[:3]})"
        )
        counts = json.loads(db.data.get(COUNTS, b'{"engine": 0, "decision": 0}'))
        in_store = {"engine": sum(k[:2] == DUE_ENGINE for k in stored),
                    "decision": sum(k[:2] == DUE_DECISION for k in stored)}  # fmt: skip
        assert counts == in_store, f"{when}, partition {part}: the gauge's counts"
        seen.update(k[:1] if k[:1] == FANOUT else k[:2] for k in stored)
    return seen


def feed_checking(rt: Runtime, table: golden.Stores, inputs: list[Any], wall: int, every: int) -> list[Counter[bytes]]:
    """Feed `inputs` with a checkpoint every `every` of them, checking the stores after each."""
    checks = []
    for start in range(0, len(inputs), every):
        chunk = inputs[start : start + every]
        golden._feed(rt, table, chunk, [], wall, len(chunk))  # ends with a checkpoint
        checks.append(check(rt, table, f"after input {start + len(chunk)}"))
    return checks


def test_replay_with_timers_fan_out_decisions_and_a_restart_keeps_the_indexes_exact() -> None:
    table: golden.Stores = {}
    wall = golden.T0 + 1000 * golden.DAY_MS
    # 60 events per user over three weeks: carts reach their deadlines, inactivity timers are re-armed, moved
    # lazily and fire, recent items pass the bound and the look-back, affinities rise over the fan-out bar
    events = list(workload.records(6_000, 100, seed=5, every_user=True, span_ms=21 * golden.DAY_MS))
    rt = golden.runtime(table)
    checks = feed_checking(rt, table, events[:3_000], wall, 400)
    rt = golden.runtime(table)  # a restart: the indexes are read from the store, not rebuilt
    checks += feed_checking(rt, table, events[3_000:], wall, 700)
    # profiles, decision timers, catalogue fan-out, weeks of inactivity
    checks += feed_checking(rt, table, golden._story(events[-1].event_time_ms + 40 * golden.DAY_MS), wall, 7)
    assert len(checks) > 20
    # what was checked: every kind of index key was there at some checkpoint
    assert max(c[DUE_ENGINE] for c in checks) > 50
    assert max(c[DUE_DECISION] for c in checks) > 0
    assert max(c[FANOUT] for c in checks) > 1_000


def test_live_ticks_keep_the_indexes_exact() -> None:
    table: golden.Stores = {}
    rt = golden.runtime(table, replay=False)
    golden._feed(rt, table, golden._story(golden.T0)[:20], [], golden.T0, 5)
    check(rt, table, "after the story")
    for k in range(1, 6):
        for p in range(golden.PARTITIONS):
            rt.handle(p, None, golden.T0 + k * 2 * golden.DAY_MS)
        rt.checkpoint()
        check(rt, table, f"after tick {k}")
