"""The record cache's size estimates against what decoded records really take (tracemalloc): the cache's bound in
megabytes (NUDGE_STATE_CACHE_MB) is only as honest as these."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

from schemas.codec import decode
from streams.bench import engine_costs, workload
from streams.engine.state import UserState
from streams.pipeline.records import Side, UserRecord
from streams.pipeline.store import (
    NEW_SIDE_BYTES,
    NEW_USER_BYTES,
    SIDE_BYTES_PER_STORED_BYTE,
    USER_BYTES_PER_STORED_BYTE,
)
from streams.state.keys import SIDE, USER


def traced_bytes(make: Callable[[], list[Any]]) -> float:
    """Bytes of Python objects the list `make` returns holds, per element."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = make()
        return (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()


def stored_records() -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    """Users' and sides' stored records after the bench workload (the shipped triggers and policies)."""
    proc = engine_costs._partition({})
    for _key, value in workload.events(100_000, 10_000):
        proc.on_event(decode(value))
    writes = proc.checkpoint()
    users = [(k, v) for k, v in writes if v and k[:1] == USER]
    sides = [(k, v) for k, v in writes if v and k[:1] == SIDE]
    return users, sides


def within(measured: float, estimated: float) -> bool:
    return 0.75 <= measured / estimated <= 1.33


def test_decoded_records_take_what_the_cache_counts_for_them() -> None:
    users, sides = stored_records()
    assert len(users) > 1_000 and len(sides) > 100
    for rows, per_byte, decode_one in (
        (users, USER_BYTES_PER_STORED_BYTE, lambda k, v: UserRecord.decode(k[1:].decode(), v, 0.5)),
        (sides, SIDE_BYTES_PER_STORED_BYTE, lambda _k, v: Side.from_bytes(v)),
    ):
        measured = traced_bytes(lambda rows=rows, decode_one=decode_one: [decode_one(k, v) for k, v in rows])
        estimated = per_byte * sum(len(v) for _, v in rows) / len(rows)
        assert within(measured, estimated), (per_byte, measured, estimated)


def test_new_users_and_sides_take_what_the_cache_counts_for_them() -> None:
    new_users = traced_bytes(lambda: [UserRecord(f"user{i}", UserState(f"user{i}")) for i in range(5_000)])
    assert within(new_users, NEW_USER_BYTES), new_users
    assert within(traced_bytes(lambda: [Side() for _ in range(5_000)]), NEW_SIDE_BYTES)
