"""Pure-engine costs: a timer tick with 1M idle users, and the bytes of state per user."""

from __future__ import annotations

import gc
import statistics
import time
from pathlib import Path

from streams.bench import workload
from streams.decisions import load_config
from streams.engine.config import load_catalogue
from streams.engine.engine import Engine
from streams.fastpath.consumer import GC_THRESHOLDS
from streams.pipeline.firings import policies
from streams.pipeline.partition import PartitionRuntime
from streams.pipeline.runtime import Runtime
from streams.state.db import MemoryDB
from streams.state.keys import DUE_ENGINE, USER, due_key

TRIGGERS = Path(__file__).resolve().parents[1] / "triggers.yaml"
DECISIONS = Path(__file__).resolve().parents[1] / "templates" / "decisions.yaml"
FAR_FUTURE_MS = 2_000_000_000_000  # deadlines no tick in the measurement reaches


def _runtime(dbs: dict[int, MemoryDB]) -> Runtime:
    catalogue = load_catalogue(TRIGGERS.read_text())
    return Runtime(Engine(catalogue), load_config(str(DECISIONS)), policies(catalogue),
                   lambda p: dbs.setdefault(p, MemoryDB()), replay=True, allowed_lateness_ms=60_000,
                   max_value_bytes=65_536)  # fmt: skip


def _partition(dbs: dict[int, MemoryDB]) -> PartitionRuntime:
    return _runtime(dbs).partition(0)


def tick_seconds(users: int = 1_000_000, ticks: int = 1000) -> float:
    """Median cost of one tick of a partition whose store holds `users` users with timers, none of them due."""
    dbs: dict[int, MemoryDB] = {}
    db = dbs[0] = MemoryDB()
    db.write((due_key(DUE_ENGINE, FAR_FUTURE_MS + i, f"u{i}"), b"") for i in range(users))
    proc = _partition(dbs)
    proc.clock.observe(workload.BASE_TIME_MS)
    samples = []
    for _ in range(ticks):
        started = time.perf_counter()
        fired = proc.on_wall_clock(workload.BASE_TIME_MS).firings
        samples.append(time.perf_counter() - started)
        assert not fired
    return statistics.median(samples)


def state_bytes_per_user(events: int = 100_000, users: int = 10_000) -> float:
    """Mean size of a user's stored record after the bench workload's events went through the runtime."""
    from schemas.codec import decode

    proc = _partition({})
    for _key, value in workload.events(events, users):
        proc.on_event(decode(value))
    sizes = [len(v) for k, v in proc.checkpoint() if v and k[:1] == USER]
    return sum(sizes) / len(sizes)


def in_process_rate(events: int = 100_000, users: int = 50_000, flush_every: int = 10_000) -> float:
    """Events/s of the worker's per-event path without Kafka: validate + decode, engine + decisions, and the
    store writes of a checkpoint every `flush_every` events (the ceiling the stream worker's CPU allows)."""
    runtime = _runtime({})
    encoded = list(workload.events(events, users))
    now_ms = int(time.time() * 1000)
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)  # the collector as the worker runs it (fastpath.enable)
    try:
        started = time.perf_counter()
        for i, (key, value) in enumerate(encoded):
            partition = i % 4
            record = runtime.read("event", "behavior.events", partition, i, key, value, now_ms)
            runtime.handle(partition, record, now_ms)
            if i % flush_every == flush_every - 1:
                runtime.checkpoint()
        runtime.checkpoint()
        return events / (time.perf_counter() - started)
    finally:
        gc.set_threshold(*thresholds)


if __name__ == "__main__":  # python -m streams.bench.engine_costs [events]: the in-process rate, 3 runs
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = [in_process_rate(n) for _ in range(3)]
    print(f"in process: {statistics.median(runs):,.0f} events/s (runs: {', '.join(f'{r:,.0f}' for r in runs)})")
