"""Engine + decisions per partition: deferral, cancellation, timers through the store, recovery, dead letters."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.codec import encode
from schemas.records import BehaviorEvent, DeadLetter, UserProfile
from streams.decisions import parse_config
from streams.engine.config import load_catalogue
from streams.engine.engine import Engine
from streams.pipeline.errors import StartupError
from streams.pipeline.firings import policies
from streams.pipeline.runtime import Runtime
from streams.state.db import MemoryDB
from tests.support import records
from tests.unit.decisions.support import ms

TRIGGERS = """
triggers:
  - {id: cart_abandoned, kind: absence, on: cart, stop: purchase, key: cart_id, within: 30m,
     data: {priority: "10", max_delay: 12h}}
  - {id: first_fav, kind: event, on: fav, occurrence: first}
"""
DECISIONS: dict[str, Any] = {
    "default_holdout_pct": 0,
    "quiet_hours": {"start": "22:00", "end": "08:00"},
    "budget": {"max": 10, "per": "24h", "min_gap": 0},
    "templates": {
        t: {
            "default": {
                "en": {"title": "Hi{% if first_name %} {{ first_name }}{% endif %}", "body": "Item {{ event.item_id }}"}
            }
        }
        for t in ("cart_abandoned", "first_fav")
    },
}
NIGHT = ms("2024-06-01T22:40")  # a cart at 22:40 UTC is abandoned at 23:10, inside quiet hours
MORNING = ms("2024-06-02T08:00")
MINUTE = 60_000


def runtime(table: dict[int, MemoryDB], watch_horizon_ms: int | None = None) -> Runtime:
    catalogue = load_catalogue(TRIGGERS)
    return Runtime(
        Engine(catalogue),
        parse_config(DECISIONS),
        policies(catalogue),
        lambda p: table.setdefault(p, MemoryDB()),
        replay=True,
        allowed_lateness_ms=0,
        max_value_bytes=4096,
        watch_horizon_ms=watch_horizon_ms,
    )


def event(user: str, type_: str, at: int, cart: str | None = "c1", n: int = 0) -> BehaviorEvent:
    """A shopping event on item i1 in `cart`; `n` tells apart two events of one user at one time."""
    return records.event(user, type_, at, event_id=f"{user}-{type_}-{at}-{n}", cart_id=cart, item_id="i1")


def run(rt: Runtime, *records: Any) -> tuple[list, list]:
    decisions, jobs = [], []
    for record in records:
        result = rt.handle(0, record, 0)
        decisions += [(d.trigger_id, d.outcome, d.reason, d.event_time_ms) for d in result.decisions]
        jobs += result.jobs
    return decisions, jobs


def test_quiet_hours_defer_a_cart_reminder_until_stream_time_reaches_the_morning() -> None:
    rt = runtime({})
    decisions, jobs = run(rt, event("u1", "cart", NIGHT), event("u2", "view", MORNING - MINUTE))
    assert decisions == [("cart_abandoned", "deferred", "quiet_hours", NIGHT + 30 * MINUTE)]
    assert jobs == []
    decisions, jobs = run(rt, event("u2", "view", MORNING))
    assert decisions == [("cart_abandoned", "queued", None, MORNING)]
    assert [(j.user_id, j.created_at_ms, j.title) for j in jobs] == [("u1", MORNING, "Hi")]


def test_a_purchase_cancels_the_deferred_reminder_of_its_cart_only() -> None:
    rt = runtime({})
    run(rt, event("u1", "cart", NIGHT, "c1"), event("u1", "cart", NIGHT, "c2", n=1))
    decisions, _ = run(rt, event("u1", "view", NIGHT + 40 * MINUTE))  # both windows close in the night
    assert [d[1] for d in decisions] == ["deferred", "deferred"]
    decisions, jobs = run(rt, event("u1", "purchase", NIGHT + 2 * 60 * MINUTE, "c1"))
    assert decisions == [("cart_abandoned", "cancelled", "purchase", NIGHT + 120 * MINUTE)]
    decisions, jobs = run(rt, event("u2", "view", MORNING))
    assert [d[1] for d in decisions] == ["queued"] and len(jobs) == 1
    assert jobs[0].data["trigger_id"] == "cart_abandoned"


def test_a_purchase_without_cart_id_cancels_every_deferred_cart_reminder() -> None:
    rt = runtime({})
    run(rt, event("u1", "cart", NIGHT, "c1"), event("u1", "cart", NIGHT, "c2", n=1))
    run(rt, event("u1", "view", NIGHT + 40 * MINUTE))
    decisions, _ = run(rt, event("u1", "purchase", NIGHT + 50 * MINUTE, None))
    assert [d[1:3] for d in decisions] == [("cancelled", "purchase")] * 2


def test_the_users_own_event_sends_a_due_job_before_it_applies() -> None:
    rt = runtime({})
    run(rt, event("u1", "cart", NIGHT))
    run(rt, event("u1", "view", NIGHT + 40 * MINUTE))
    # a purchase exactly at the morning: the reminder is due first and goes out; nothing is left to cancel
    decisions, jobs = run(rt, event("u1", "purchase", MORNING))
    assert [d[1] for d in decisions] == ["queued"] and len(jobs) == 1


def test_deferred_jobs_survive_a_restart_through_the_store() -> None:
    table: dict[int, MemoryDB] = {}
    rt = runtime(table)
    run(rt, UserProfile(user_id="u1", first_name="Ann", time_zone="UTC", updated_at_ms=0))
    run(rt, event("u1", "cart", NIGHT), event("u1", "view", NIGHT + 40 * MINUTE))
    rt.checkpoint()
    restarted = runtime(table)  # nothing rebuilt: the timer index is in the store, as after recovery or a rebalance
    assert restarted.partition(0).timer_count() == 1
    decisions, jobs = run(restarted, event("u2", "view", MORNING))
    assert [d[1] for d in decisions] == ["queued"]
    assert jobs[0].title == "Hi Ann"  # the profile came back with the state


def test_an_opted_out_profile_is_suppressed_and_gets_no_job() -> None:
    rt = runtime({})
    decisions, jobs = run(rt, UserProfile(user_id="u1", unsubscribed=True, updated_at_ms=0), event("u1", "fav", NIGHT))
    assert decisions == [("first_fav", "suppressed", "unsubscribed", NIGHT)] and jobs == []


def test_bad_input_becomes_a_dead_letter_with_the_reason() -> None:
    rt = runtime({})
    letter = rt.read("event", "behavior.events", 1, 7, b"k", b"garbage", 0)
    assert isinstance(letter, DeadLetter) and letter.error_kind == "bad_framing" and letter.offset == 7
    wrong = rt.read("event", "behavior.events", 0, 0, b"k", encode(UserProfile(user_id="u", updated_at_ms=1)), 0)
    assert isinstance(wrong, DeadLetter) and wrong.error_kind == "wrong_type"
    assert rt.read("tick", "ticks", 0, 0, None, b"", 0) is None


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"priority": "high"}, "priority"),
        ({"max_delay": "soon"}, "max_delay"),
        ({"transactional": "yes"}, "transactional"),
    ],
)
def test_bad_delivery_policy_in_trigger_data_refuses_to_start(data: dict[str, str], key: str) -> None:
    catalogue = load_catalogue(f"triggers:\n  - {{id: t, kind: event, on: cart, data: {data}}}\n")
    with pytest.raises(StartupError, match=f"triggers.t.data.{key}"):
        policies(catalogue)


def test_a_record_that_fails_in_processing_is_dead_lettered_and_the_next_one_flows() -> None:
    from prometheus_client import CollectorRegistry

    from schemas.codec import decode
    from streams.pipeline.agents import Outbox, step
    from streams.pipeline.prometheus import PipelineMetrics
    from streams.pipeline.topics import EngineTopics

    rt = runtime({})
    metrics, names, out = PipelineMetrics.build(CollectorRegistry()), EngineTopics.named("", "app"), Outbox()
    original = rt.handle

    def broken(partition: int, record: Any, wall_ms: int) -> Any:
        if getattr(record, "user_id", "") == "poison":
            raise ValueError("boom")
        return original(partition, record, wall_ms)

    rt.handle = broken  # type: ignore[method-assign]
    for user in ("poison", "u1"):
        value = encode(event(user, "fav", NIGHT - 3 * 60 * MINUTE))
        step(rt, metrics, names, "event", "behavior.events", 0, 0, user.encode(), value, NIGHT / 1000, out)
    letters = [decode(v, DeadLetter) for t, _, v in out.messages if t == "behavior.events.dlq"]
    assert [(d.error_kind, d.error) for d in letters] == [("processing_error", "ValueError: boom")]
    assert [t for t, _, _ in out.messages].count("notifications.jobs") == 1  # the next record still made its job


HORIZON = 3 * 24 * 60 * MINUTE


def test_a_push_makes_the_lane_watch_its_user_for_the_horizon_and_a_restart_keeps_the_watch() -> None:
    table: dict[int, MemoryDB] = {}
    rt = runtime(table, watch_horizon_ms=HORIZON)
    noon = ms("2024-06-02T12:00")
    decisions, _ = run(rt, event("u1", "fav", noon), event("u2", "view", noon))
    assert [d[1] for d in decisions] == ["queued"]
    lane = rt.partition(0)
    assert lane.watches("u1", noon) and lane.watches("u1", noon + HORIZON)
    assert not lane.watches("u1", noon + HORIZON + 1)
    assert not lane.watches("u2", noon)  # never pushed: its events can change no count
    rt.checkpoint()
    restarted = runtime(table, watch_horizon_ms=HORIZON)  # read back from the user's record, as after recovery
    assert restarted.partition(0).watches("u1", noon + HORIZON) and not restarted.partition(0).watches("u2", noon)


def test_a_deferred_push_is_watched_from_when_it_goes_out_not_from_its_firing() -> None:
    rt = runtime({}, watch_horizon_ms=HORIZON)
    run(rt, event("u1", "cart", NIGHT), event("u1", "view", NIGHT + 40 * MINUTE))
    assert not rt.partition(0).watches("u1", NIGHT + 40 * MINUTE)  # deferred: nothing went out yet
    decisions, _ = run(rt, event("u2", "view", MORNING))
    assert [d[1] for d in decisions] == ["queued"]
    assert rt.partition(0).watches("u1", MORNING + HORIZON)
    assert not rt.partition(0).watches("u1", MORNING + HORIZON + 1)


def test_without_a_horizon_every_event_is_wanted_and_no_watch_is_kept() -> None:
    rt = runtime({})
    run(rt, event("u1", "fav", ms("2024-06-02T12:00")))
    assert rt.partition(0).watches("u2", 0)
    assert rt.partition(0).store.user("u1").watch_until == 0


def test_a_deferred_job_is_sent_when_due_even_if_an_earlier_firing_comes_first_in_the_same_step() -> None:
    """The decision timer index hands out an entry only when it is fired: a firing earlier in the same step
    used to take the due timer out of the index and lose it until its user was touched again."""
    rt = runtime({})
    run(rt, event("u1", "cart", NIGHT), event("u1", "view", NIGHT + 40 * MINUTE))  # u1's reminder waits for 08:00
    run(rt, event("u4", "cart", MORNING - 60 * MINUTE, cart="c4"))  # abandoned at 07:30, inside quiet hours
    decisions, jobs = run(rt, event("u2", "view", MORNING + MINUTE))  # one step: u4's firing, both due jobs
    assert [d[:3] for d in decisions] == [
        ("cart_abandoned", "deferred", "quiet_hours"),  # u4's firing (07:30) first, deferred to 08:00
        ("cart_abandoned", "queued", None),  # u1's job, due at 08:00
        ("cart_abandoned", "queued", None),  # u4's, due at 08:00 too
    ]
    assert sorted(j.user_id for j in jobs) == ["u1", "u4"]
