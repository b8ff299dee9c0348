"""decide / on_timer / cancel: caps, budget contention, quiet hours in many zones, expiry, cancellation."""

from __future__ import annotations

from typing import Any

import pytest

from streams.decisions import DecisionState, Sent, cancel, decide, on_timer, timer_key_for
from streams.decisions.config import DAY_MS, HOUR_MS, MINUTE_MS
from tests.unit.decisions.support import NOON, config, firing, ms, profile


def sent(*ago: tuple[int, str] | int, counted: bool = True) -> DecisionState:
    """A state with sends `ago` ms before NOON (ints are trigger "other")."""
    items = [(a, "other") if isinstance(a, int) else a for a in ago]
    return DecisionState(
        sent=tuple(Sent(NOON - a, tid, counted) for a, tid in items),
        last_sent_by_trigger={tid: NOON - min(a for a, t in items if t == tid) for _, tid in items},
    )


CAPS = {"budget": {"max": 3, "per": "24h", "min_gap": "30m"}, "triggers": {"t": {"cap": {"max": 1, "per": "7d"}}}}


@pytest.mark.parametrize(
    ("state", "prof", "fields", "expected"),
    [
        (DecisionState(), {}, {}, ("queued", None, None)),
        (sent(10 * MINUTE_MS), {}, {}, ("deferred", "min_gap", NOON + 20 * MINUTE_MS)),
        (sent(HOUR_MS, 2 * HOUR_MS, 20 * HOUR_MS), {}, {}, ("deferred", "global_cap", NOON + 4 * HOUR_MS)),
        (sent(HOUR_MS, 2 * HOUR_MS, 25 * HOUR_MS), {}, {}, ("queued", None, None)),  # oldest left the window
        # the user's own "at most 2 a week" is tighter than the global 3/24 h
        (sent(HOUR_MS, 3 * DAY_MS), {"max_per_week": 2}, {}, ("expired", "max_delay", None)),
        (
            sent(HOUR_MS, 3 * DAY_MS),
            {"max_per_week": 2},
            {"max_delay_ms": 5 * DAY_MS},
            ("deferred", "user_frequency", NOON + 4 * DAY_MS),
        ),
        # per-trigger cap 1 / 7 d: frees in 6 days, beyond the 1-day max delay
        (sent((DAY_MS, "t")), {}, {}, ("expired", "max_delay", None)),
        # transactional firings bypass every cap and do not spend the budget
        (
            sent(MINUTE_MS, HOUR_MS, 2 * HOUR_MS, (3 * HOUR_MS, "t")),
            {},
            {"transactional": True},
            ("queued", None, None),
        ),
        # transactional sends in the past are not counted either
        (sent(MINUTE_MS, 2 * MINUTE_MS, 3 * MINUTE_MS, 4 * MINUTE_MS, counted=False), {}, {}, ("queued", None, None)),
    ],
)
def test_frequency_caps(state: DecisionState, prof: dict[str, Any], fields: dict[str, Any], expected: tuple) -> None:
    out = decide(firing(**fields), profile(**prof), state, config(**CAPS), NOON)
    (d,) = out.decisions
    assert (d.outcome, d.reason, d.due_at_ms) == expected
    assert len(out.jobs) == (d.outcome == "queued")
    assert [t.due_at_ms for t in out.timers] == ([expected[2]] if d.outcome == "deferred" else [])


def test_expired_decision_says_what_blocked_it() -> None:
    out = decide(firing(), profile(), sent((DAY_MS, "t")), config(**CAPS), NOON)
    assert out.decisions[0].details["blocked_by"] == "trigger_cap"
    assert out.decisions[0].details["would_send_at_ms"] == str(NOON + 6 * DAY_MS)


def test_drop_policy_suppresses_instead_of_deferring() -> None:
    out = decide(firing(), profile(), sent(10 * MINUTE_MS), config(**CAPS, on_budget_short="drop"), NOON)
    assert [(d.outcome, d.reason) for d in out.decisions] == [("suppressed", "min_gap")] and out.timers == []


def test_bypass_flag_on_a_trigger() -> None:
    cfg = config(budget={"max": 1, "per": "24h"}, triggers={"t": {"bypass_caps": True}})
    out = decide(firing(), profile(), sent(MINUTE_MS), cfg, NOON)
    assert out.decisions[0].outcome == "queued" and out.state.sent[-1].counted is False


@pytest.mark.parametrize(("ago", "outcome"), [(2 * HOUR_MS, "suppressed"), (DAY_MS + 1, "queued")])
def test_reeligibility(ago: int, outcome: str) -> None:
    cfg = config(triggers={"t": {"reeligible_after": "1d"}})
    out = decide(firing(), profile(), sent((ago, "t")), cfg, NOON)
    assert out.decisions[0].outcome == outcome
    if outcome == "suppressed":
        assert out.decisions[0].reason == "not_reeligible"


def test_sends_are_recorded_and_old_ones_forgotten() -> None:
    cfg = config(budget={"max": 3, "per": "24h", "min_gap": 0})
    state = DecisionState(sent=(Sent(NOON - 30 * DAY_MS, "old"),))
    out = decide(firing(), profile(), state, cfg, NOON)
    assert out.state.sent == (Sent(NOON, "t", True),) and out.state.last_sent_by_trigger == {"t": NOON}


# --- budget contention -----------------------------------------------------------------------------------

CONTENTION = {"budget": {"max": 1, "per": "24h", "min_gap": 0}}


def test_most_valuable_deferred_job_wins_when_budget_frees() -> None:
    cfg = config(**CONTENTION)
    state = sent(12 * HOUR_MS)  # budget spent until NOON + 12 h
    low = decide(firing(trigger_id="low", priority=1, max_delay_ms=3 * DAY_MS), profile(), state, cfg, NOON)
    high = decide(
        firing(trigger_id="urgent", priority=9, max_delay_ms=DAY_MS), profile(), low.state, cfg, NOON + MINUTE_MS
    )
    free = NOON + 12 * HOUR_MS
    assert [d.due_at_ms for d in low.decisions + high.decisions] == [free, free]
    # the engine happens to fire the low-priority timer first: the high-priority job still wins
    out = on_timer(low.timers[0].key, profile(), high.state, cfg, free)
    assert [(d.trigger_id, d.outcome, d.reason) for d in out.decisions] == [
        ("urgent", "queued", None),
        ("low", "deferred", "global_cap"),
    ]
    assert [j.trigger_id for j in out.jobs] == ["urgent"]
    # the winner's own timer is dropped; the loser's is moved to when the budget frees again
    assert [(t.action, t.key, t.due_at_ms) for t in out.timers] == [
        ("cancel", high.timers[0].key, free),
        ("set", low.timers[0].key, free + DAY_MS),
    ]
    # the urgent job's own timer arrives afterwards: a stale no-op
    assert on_timer(high.timers[0].key, profile(), out.state, cfg, free) == (out.state, [], [], [])


def test_contention_loser_expires_when_its_max_delay_passes() -> None:
    cfg = config(**CONTENTION)
    state = sent(12 * HOUR_MS)
    low = decide(firing(trigger_id="low", priority=1, max_delay_ms=13 * HOUR_MS), profile(), state, cfg, NOON)
    high = decide(firing(trigger_id="urgent", priority=9), profile(), low.state, cfg, NOON)
    out = on_timer(high.timers[0].key, profile(), high.state, cfg, NOON + 12 * HOUR_MS)
    assert sorted((d.trigger_id, d.outcome) for d in out.decisions) == [("low", "expired"), ("urgent", "queued")]
    assert out.state.pending == ()


def test_pending_overflow_expires_the_least_valuable() -> None:
    cfg = config(**CONTENTION, max_pending=2)
    state, outs = sent(HOUR_MS), []
    for n, prio in enumerate([5, 1, 7]):
        outs.append(decide(firing(n=n, priority=prio), profile(), state, cfg, NOON))
        state = outs[-1].state
    assert sorted(p.firing.priority for p in state.pending) == [5, 7]
    last = outs[-1]
    assert [(d.outcome, d.reason, d.details["priority"]) for d in last.decisions] == [
        ("deferred", "global_cap", "7"),
        ("expired", "superseded", "1"),
    ]
    assert [t.action for t in last.timers] == ["set", "cancel"]


# --- quiet hours --------------------------------------------------------------------------------------------

QUIET = {"quiet_hours": {"start": "22:00", "end": "08:00"}, "default_time_zone": "UTC"}
AT = ms("2024-06-01T23:00")


@pytest.mark.parametrize(
    ("zone", "outcome", "due_utc"),
    [
        ("Europe/London", "deferred", "2024-06-02T07:00"),  # 00:00 BST
        ("Asia/Tokyo", "queued", None),  # 08:00 JST: the window just ended
        ("America/New_York", "queued", None),  # 19:00 EDT
        ("America/Los_Angeles", "queued", None),
        ("Asia/Kolkata", "deferred", "2024-06-02T02:30"),  # 04:30 IST
        ("Asia/Kathmandu", "deferred", "2024-06-02T02:15"),
        ("Australia/Sydney", "queued", None),  # 09:00 AEST
        ("Pacific/Honolulu", "queued", None),
        ("Europe/Berlin", "deferred", "2024-06-02T06:00"),
        (None, "deferred", "2024-06-02T08:00"),  # unknown: the default zone, UTC
        ("Not/AZone", "deferred", "2024-06-02T08:00"),
    ],
)
def test_quiet_hours_for_users_in_many_zones(zone: str | None, outcome: str, due_utc: str | None) -> None:
    cfg = config(**QUIET)
    prof = profile(time_zone=zone)
    out = decide(firing(at_ms=AT), prof, DecisionState(), cfg, AT)
    (d,) = out.decisions
    assert (d.outcome, d.due_at_ms) == (outcome, ms(due_utc) if due_utc else None)
    if outcome == "deferred":
        assert d.reason == "quiet_hours" and d.details["not_after_ms"] == str(AT + DAY_MS)
        (timer,) = out.timers
        assert (timer.key, timer.due_at_ms, timer.action) == (timer_key_for(d.job_id), d.due_at_ms, "set")
        done = on_timer(timer.key, prof, out.state, cfg, timer.due_at_ms)
        assert [(x.outcome, x.job_id) for x in done.decisions] == [("queued", d.job_id)]
        assert done.jobs[0].job_id == d.job_id and done.state.pending == ()


@pytest.mark.parametrize(
    ("zone", "night_utc", "morning_utc"),
    [
        ("Europe/London", "2024-03-30T23:30", "2024-03-31T07:00"),  # clocks go forward overnight
        ("Europe/London", "2024-10-26T22:30", "2024-10-27T08:00"),  # clocks go back overnight
        ("America/New_York", "2024-03-10T04:00", "2024-03-10T12:00"),
        ("America/New_York", "2024-11-03T03:00", "2024-11-03T13:00"),
        ("Australia/Adelaide", "2024-04-06T13:00", "2024-04-06T22:30"),  # half-hour zone leaving DST (+10:30 -> +9:30)
    ],
)
def test_quiet_hours_across_dst_then_sent_at_local_eight(zone: str, night_utc: str, morning_utc: str) -> None:
    cfg = config(**QUIET)
    out = decide(firing(at_ms=ms(night_utc)), profile(time_zone=zone), DecisionState(), cfg, ms(night_utc))
    assert out.decisions[0].due_at_ms == ms(morning_utc)
    done = on_timer(out.timers[0].key, profile(time_zone=zone), out.state, cfg, ms(morning_utc))
    assert [d.outcome for d in done.decisions] == ["queued"]


def test_quiet_hours_beyond_max_delay_expire_and_say_so() -> None:
    out = decide(firing(at_ms=AT, max_delay_ms=HOUR_MS), profile(), DecisionState(), config(**QUIET), AT)
    (d,) = out.decisions
    assert (d.outcome, d.reason, d.details["blocked_by"]) == ("expired", "max_delay", "quiet_hours")


def test_send_hour_in_local_time() -> None:
    cfg = config(triggers={"t": {"send_hour": 18}})
    out = decide(firing(), profile(time_zone="Asia/Kolkata"), DecisionState(), cfg, NOON)  # 17:30 IST
    assert (out.decisions[0].reason, out.decisions[0].due_at_ms) == ("send_hour", ms("2024-06-01T12:30"))


# --- timers, expiry, cancellation -------------------------------------------------------------------------


def deferred_cart(cfg: Any, cart_id: str = "c1", at: int = AT):
    f = firing(trigger_id="t", at_ms=at, n=cart_id, cancel_key=f"cart:u1:{cart_id}", event={"cart_id": cart_id})
    return decide(f, profile(), DecisionState(), cfg, at)


def test_purchase_cancels_a_deferred_cart_reminder() -> None:
    cfg = config(**QUIET)
    first = deferred_cart(cfg, "c1")
    second = decide(firing(at_ms=AT, n="c2", cancel_key="cart:u1:c2"), profile(), first.state, cfg, AT + MINUTE_MS)
    out = cancel("cart:u1:c1", second.state, AT + HOUR_MS, reason="purchase")
    assert [(d.outcome, d.reason, d.job_id) for d in out.decisions] == [
        ("cancelled", "purchase", first.decisions[0].job_id)
    ]
    assert [(t.action, t.key) for t in out.timers] == [("cancel", first.timers[0].key)]
    assert [p.firing.cancel_key for p in out.state.pending] == ["cart:u1:c2"]
    morning = ms("2024-06-02T08:00")
    assert on_timer(first.timers[0].key, profile(), out.state, cfg, morning).decisions == []  # cancelled: no-op
    other = on_timer(second.timers[0].key, profile(), out.state, cfg, morning)
    assert [(d.outcome, j.firing_id) for d, j in zip(other.decisions, other.jobs, strict=True)] == [
        ("queued", "t:u1:c2")
    ]
    assert cancel("cart:u1:nope", out.state, AT) == (out.state, [], [], [])


def test_timer_after_not_after_expires_the_job() -> None:
    cfg = config(**QUIET)
    d = deferred_cart(cfg)
    late = AT + DAY_MS + 1
    out = on_timer(d.timers[0].key, profile(), d.state, cfg, late)
    assert [(x.outcome, x.reason) for x in out.decisions] == [("expired", "max_delay")] and out.jobs == []


def test_early_or_unknown_timer_is_a_no_op() -> None:
    cfg = config(**QUIET)
    d = deferred_cart(cfg)
    assert on_timer(d.timers[0].key, profile(), d.state, cfg, AT + MINUTE_MS).decisions == []
    assert on_timer("decision:j-unknown", profile(), d.state, cfg, AT + DAY_MS).decisions == []


def test_user_unsubscribing_while_deferred_stops_the_job() -> None:
    cfg = config(**QUIET)
    d = deferred_cart(cfg)
    out = on_timer(d.timers[0].key, profile(unsubscribed=True), d.state, cfg, d.timers[0].due_at_ms)
    assert [(x.outcome, x.reason) for x in out.decisions] == [
        ("suppressed", "unsubscribed")
    ] and out.state.pending == ()


def test_caps_are_rechecked_when_the_timer_fires() -> None:
    cfg = config(**QUIET, budget={"max": 1, "per": "24h", "min_gap": 0})
    d = deferred_cart(cfg)
    due = d.timers[0].due_at_ms
    spent = decide(
        firing(trigger_id="low", n=9, at_ms=ms("2024-06-01T21:00")),
        profile(),
        DecisionState(),
        cfg,
        ms("2024-06-01T21:00"),
    )
    merged = DecisionState(sent=spent.state.sent, pending=d.state.pending)
    out = on_timer(d.timers[0].key, profile(), merged, cfg, due)
    # a send at 21:00 spent the 1/24 h budget after the job was deferred: it waits until 21:00 next day
    assert [(x.outcome, x.reason, x.due_at_ms) for x in out.decisions] == [
        ("deferred", "global_cap", ms("2024-06-02T21:00"))
    ]
    assert [(t.action, t.due_at_ms) for t in out.timers] == [("set", ms("2024-06-02T21:00"))]


def test_transactional_skips_caps_but_not_quiet_hours() -> None:
    out = decide(firing(transactional=True, at_ms=AT), profile(), sent(MINUTE_MS), config(**QUIET), AT)
    assert (out.decisions[0].outcome, out.decisions[0].reason) == ("deferred", "quiet_hours")


# --- rendering and job shape --------------------------------------------------------------------------------


def test_render_failure_becomes_a_template_error_decision() -> None:
    cfg = config(templates={"t": {"default": {"en": {"title": "{{ cart[0].title }}", "body": "b"}}}})  # no cart line
    out = decide(firing(), profile(), DecisionState(), cfg, NOON)
    (d,) = out.decisions
    assert (d.outcome, d.reason) == ("suppressed", "template_error") and "UndefinedError" in d.details["error"]
    assert out.jobs == [] and out.state == DecisionState()


def test_job_shape_is_deterministic() -> None:
    cfg = config(triggers={"t": {"discount_code": "SAVE5", "collapse_key": "cart", "ttl": "2h"}})
    f = firing(priority=60, event={"item_id": "i9"})
    a = decide(f, profile(first_name="Zoë", locale="en-GB"), DecisionState(), cfg, NOON)
    b = decide(f, profile(first_name="Zoë", locale="en-GB"), DecisionState(), cfg, NOON)
    assert a == b
    (job,) = a.jobs
    assert (job.title, job.body, job.locale, job.priority, job.collapse_key, job.ttl_seconds) == (
        "Hi Zoë",
        "Body for i9",
        "en",
        "high",
        "cart",
        7200,
    )
    assert job.data == {"job_id": job.job_id, "trigger_id": "t", "variant": "default", "discount_code": "SAVE5"}
    assert job.not_after_ms == NOON + DAY_MS and a.decisions[0].job_id == job.job_id


def test_variant_cap_overrides_the_trigger_cap() -> None:
    raw = {
        "triggers": {"t": {"cap": {"max": 5, "per": "1d"}, "variants": {"strict": {"cap": {"max": 1, "per": "1d"}}}}}
    }
    out = decide(firing(), profile(), sent((HOUR_MS, "t")), config(**raw), NOON)
    assert (out.decisions[0].variant, out.decisions[0].reason) == ("strict", "trigger_cap")
