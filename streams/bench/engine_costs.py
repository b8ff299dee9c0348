"""Pure-engine costs: a timer tick with 1M idle users, and the bytes of state per user."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from streams.bench import workload
from streams.engine.clock import StreamClock
from streams.engine.config import load_catalogue
from streams.engine.engine import Engine
from streams.engine.partition import PartitionProcessor
from streams.engine.state import UserState

TRIGGERS = Path(__file__).resolve().parents[1] / "triggers.yaml"
FAR_FUTURE_MS = 2_000_000_000_000  # deadlines no tick in the measurement reaches


def _processor(states: dict[str, UserState] | None = None) -> PartitionProcessor:
    engine = Engine(load_catalogue(TRIGGERS.read_text()))
    return PartitionProcessor(engine, (states or {}).get, StreamClock(60_000, replay=True))


def tick_seconds(users: int = 1_000_000, ticks: int = 1000) -> float:
    """Median cost of one tick of a partition holding `users` users with timers, none of them due."""
    proc = _processor()
    for i in range(users):
        proc.timers.set(f"u{i}", FAR_FUTURE_MS + i)
    proc.clock.observe(workload.BASE_TIME_MS)
    samples = []
    for _ in range(ticks):
        started = time.perf_counter()
        fired = proc.tick()
        samples.append(time.perf_counter() - started)
        assert not fired
    return statistics.median(samples)


def state_bytes_per_user(events: int = 100_000, users: int = 10_000) -> float:
    """Mean size of a user's stored state after the bench workload's events went through the engine."""
    from schemas.codec import decode

    states: dict[str, UserState] = {}
    proc = _processor(states)
    for _key, value in workload.events(events, users):
        proc.on_event(decode(value))
        states.update(proc.take_dirty())
    sizes = [len(s.to_bytes()) for s in states.values()]
    return sum(sizes) / len(sizes)
