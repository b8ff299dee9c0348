"""Properties over random firing sequences: the budget holds, every outcome is recorded and accounted for."""

from __future__ import annotations

import heapq

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.decisions import DecisionState, cancel, decide, on_timer
from streams.decisions.config import DAY_MS, HOUR_MS, MINUTE_MS
from tests.unit.decisions.support import NOON, config, firing, profile

CFG = config(
    budget={"max": 2, "per": "24h", "min_gap": "1h"},
    quiet_hours={"start": "22:00", "end": "08:00"},
    default_holdout_pct=20,
    max_pending=3,
    triggers={"low": {"cap": {"max": 1, "per": "12h"}}},
)
TERMINAL = {"queued", "suppressed", "holdout", "cancelled", "expired"}

steps = st.lists(
    st.tuples(
        st.integers(0, 3 * DAY_MS // MINUTE_MS),  # minutes after the start
        st.sampled_from(["t", "low", "urgent"]),
        st.integers(0, 9),  # priority
        st.booleans(),  # transactional
        st.booleans(),  # a cancel instead of a firing
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(steps=steps, zone=st.sampled_from(["Europe/London", "Asia/Kolkata", "America/New_York", "Bad/Zone"]))
def test_budget_and_accounting_hold(steps: list, zone: str) -> None:
    prof = profile(time_zone=zone)
    state = DecisionState()
    timers: list[tuple[int, str]] = []
    live: dict[str, int] = {}
    last: dict[str, str] = {}  # job id -> last outcome
    sends: list[tuple[int, bool]] = []

    def apply(out, now: int) -> DecisionState:
        for d in out.decisions:
            assert d.job_id and d.event_time_ms == now
            assert last.get(d.job_id) not in TERMINAL, f"{d.job_id} decided again after {last[d.job_id]}"
            last[d.job_id] = d.outcome
            assert (d.outcome == "deferred") == (d.due_at_ms is not None)
        for j in out.jobs:
            assert last[j.job_id] == "queued" and j.created_at_ms <= j.not_after_ms
            sends.append((now, j.priority == "high" and j.trigger_id == "urgent"))
        for t in out.timers:
            if t.action == "set":
                live[t.key] = t.due_at_ms
                heapq.heappush(timers, (t.due_at_ms, t.key))
            else:
                live.pop(t.key, None)
        return out.state

    def run_timers(until: int) -> DecisionState:
        nonlocal state
        while timers and timers[0][0] <= until:
            due, key = heapq.heappop(timers)
            if live.get(key) == due:
                del live[key]
                state = apply(on_timer(key, prof, state, CFG, due), due)
        return state

    for n, (minute, trigger, prio, transactional, is_cancel) in enumerate(sorted(steps)):
        now = NOON + minute * MINUTE_MS
        run_timers(now)
        if is_cancel:
            state = apply(cancel(f"k{prio}", state, now), now)
            continue
        f = firing(trigger_id=trigger, n=n, at_ms=now, priority=prio, cancel_key=f"k{prio}",
                   transactional=transactional and trigger == "urgent", max_delay_ms=12 * HOUR_MS)  # fmt: skip
        state = apply(decide(f, prof, state, CFG, now), now)
    run_timers(2**62)

    assert state.pending == () and live == {}
    assert all(outcome in TERMINAL for outcome in last.values())  # nothing is left deferred forever
    counted = sorted(at for at, bypass in sends if not bypass)
    for i, at in enumerate(counted):
        assert sum(1 for other in counted[i:] if other < at + DAY_MS) <= 2  # the 2 / 24 h budget
        assert i == 0 or at - counted[i - 1] >= HOUR_MS  # the minimum gap
