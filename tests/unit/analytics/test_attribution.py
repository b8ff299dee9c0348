"""Attribution tables: feedback by job id, each trigger's last touch converts in its window, retention, state."""

from __future__ import annotations

import pytest

from streams.analytics.attribution import (
    DAY_MS,
    HOUR_MS,
    AnalyticsConfig,
    UserAttribution,
    attribute,
    on_decision,
    on_delivery,
    on_event,
    prune,
)
from streams.analytics.batch import recompute
from streams.analytics.errors import BadStateError
from streams.analytics.metrics import MetricsBoard
from tests.support.clock import FakeClock
from tests.support.records import decision, delivery, event

CFG = AnalyticsConfig()


def names(counts: list) -> list[str]:
    return [c.name if c.reason is None else f"{c.name}:{c.reason}" for c in counts]


def sent_job(state: UserAttribution, clock: FakeClock, job: str = "j1", trigger: str = "cart_abandoned") -> None:
    on_decision(state, decision("u", job, "queued", clock(), trigger=trigger), CFG)
    on_delivery(state, delivery("u", job, clock(), trigger=trigger), CFG)


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([("queued", None)], ["fired", "sent"]),
        ([("deferred", "quiet_hours"), ("queued", None)], ["fired", "sent"]),
        ([("suppressed", "frequency_cap")], ["fired", "suppressed:frequency_cap"]),
        ([("deferred", "budget"), ("expired", "not_after")], ["fired", "suppressed:expired:not_after"]),
        ([("deferred", "quiet_hours"), ("cancelled", "purchase")], ["fired", "suppressed:cancelled:purchase"]),
        ([("holdout", "control_group")], ["fired", "holdout"]),
        ([("queued", None), ("queued", None)], ["fired", "sent"]),  # a redelivered decision counts once
    ],
)
def test_decision_outcomes(fake_clock: FakeClock, outcomes: list, expected: list[str]) -> None:
    state = UserAttribution()
    got: list = []
    for outcome, reason in outcomes:
        got += on_decision(state, decision("u", "j1", outcome, fake_clock(), reason=reason), CFG)
        fake_clock.advance(HOUR_MS)
    assert names(got) == expected


@pytest.mark.parametrize("outcomes", [["queued"], ["deferred", "queued"], ["queued", "queued"]])
def test_a_delivery_read_before_its_decision_still_counts_the_firing_once(
    fake_clock: FakeClock, outcomes: list[str]
) -> None:
    state = UserAttribution()  # decisions and deliveries come from two topics: either may be read first
    got = on_delivery(state, delivery("u", "j1", fake_clock()), CFG)
    for outcome in outcomes:
        got += on_decision(state, decision("u", "j1", outcome, fake_clock()), CFG)
    got += on_delivery(state, delivery("u", "j1", fake_clock()), CFG)
    assert sorted(names(got)) == ["delivered", "fired", "sent"]
    assert on_decision(state, decision("u", "j1", "queued", fake_clock()), CFG) == []  # redelivered: nothing new


def test_feedback_is_matched_by_job_id_and_a_click_implies_an_open(fake_clock: FakeClock) -> None:
    state = UserAttribution()
    sent_job(state, fake_clock)
    fake_clock.advance(60_000)
    assert names(on_event(state, event("u", "notification_clicked", fake_clock(), "j1"), CFG)) == ["opened", "clicked"]
    assert on_event(state, event("u", "notification_opened", fake_clock(), "j1"), CFG) == []
    assert on_event(state, event("u", "notification_opened", fake_clock(), "unknown-job"), CFG) == []


@pytest.mark.parametrize(
    ("trigger", "event_type", "after_ms", "converted"),
    [
        ("cart_abandoned", "purchase", HOUR_MS, True),
        ("cart_abandoned", "purchase", DAY_MS, True),  # the window's end is inclusive
        ("cart_abandoned", "purchase", DAY_MS + 1, False),
        ("cart_abandoned", "app_open", HOUR_MS, False),  # not a goal of this trigger
        ("reengage", "app_open", HOUR_MS, True),  # returning to the app is
    ],
)
def test_conversion_window_and_goal(
    fake_clock: FakeClock, trigger: str, event_type: str, after_ms: int, converted: bool
) -> None:
    state = UserAttribution()
    sent_job(state, fake_clock, trigger=trigger)
    fake_clock.advance(after_ms)
    assert ("converted" in names(on_event(state, event("u", event_type, fake_clock()), CFG))) is converted


def test_conversion_goes_to_the_last_notification_once(fake_clock: FakeClock) -> None:
    state = UserAttribution()
    sent_job(state, fake_clock, "j1")
    fake_clock.advance(HOUR_MS)
    sent_job(state, fake_clock, "j2")
    fake_clock.advance(HOUR_MS)
    counts = on_event(state, event("u", "purchase", fake_clock()), CFG)
    assert [(c.name, c.trigger_id) for c in counts if c.name == "converted"] == [("converted", "cart_abandoned")]
    assert state.touches["j2"].flags != state.touches["j1"].flags  # j2 converted, j1 not
    fake_clock.advance(HOUR_MS)
    assert "converted" not in names(on_event(state, event("u", "purchase", fake_clock()), CFG))


def test_a_conversion_counts_for_every_trigger_that_touched_the_user_in_its_window(fake_clock: FakeClock) -> None:
    state = UserAttribution()
    sent_job(state, fake_clock, "cart", trigger="cart_abandoned")
    fake_clock.advance(HOUR_MS)
    sent_job(state, fake_clock, "drop", trigger="price_drop")
    fake_clock.advance(HOUR_MS)
    counts = on_event(state, event("u", "purchase", fake_clock()), CFG)
    assert sorted(c.trigger_id for c in counts if c.name == "converted") == ["cart_abandoned", "price_drop"]


def test_holdout_converts_and_is_retained_without_being_opened(fake_clock: FakeClock) -> None:
    state = UserAttribution()
    on_decision(state, decision("u", "h1", "holdout", fake_clock(), reason="control_group"), CFG)
    fake_clock.advance(2 * HOUR_MS)
    assert names(on_event(state, event("u", "purchase", fake_clock()), CFG)) == ["converted", "retained"]


def test_retention_counts_activity_after_the_push_within_n_days(fake_clock: FakeClock) -> None:
    state = UserAttribution()
    sent_job(state, fake_clock)
    fake_clock.advance(CFG.retention_ms + 1)
    assert on_event(state, event("u", "app_open", fake_clock()), CFG) == []


def test_state_round_trips_and_is_pruned_after_the_horizon(fake_clock: FakeClock) -> None:
    state = UserAttribution()
    sent_job(state, fake_clock)
    copy = UserAttribution.from_dict(state.to_dict())
    assert copy.to_dict() == state.to_dict()
    assert prune(copy, fake_clock() + CFG.horizon_ms(), CFG) == 0
    assert prune(copy, fake_clock() + CFG.horizon_ms() + 1, CFG) == 1
    with pytest.raises(BadStateError):
        UserAttribution.from_dict({"t": [["too", "short"]]})


def test_state_is_bounded(fake_clock: FakeClock) -> None:
    state = UserAttribution()
    for i in range(CFG.max_touches + 5):
        on_decision(state, decision("u", f"j{i}", "queued", fake_clock()), CFG)
        fake_clock.advance(1)
    assert len(state.touches) == CFG.max_touches
    assert "j0" not in state.touches


def test_recompute_gives_the_funnel_and_lift(fake_clock: FakeClock) -> None:
    t0 = fake_clock()
    decisions, deliveries, events = [], [], []
    for i in range(10):  # 10 treated users, 6 convert; 10 held out, 2 convert
        decisions.append(decision(f"t{i}", f"j{i}", "queued", t0))
        deliveries.append(delivery(f"t{i}", f"j{i}", t0 + 5))
        if i < 6:
            events.append(event(f"t{i}", "purchase", t0 + HOUR_MS))
        decisions.append(decision(f"h{i}", f"h{i}", "holdout", t0))
        if i < 2:
            events.append(event(f"h{i}", "purchase", t0 + HOUR_MS))
    events.append(event("t0", "notification_opened", t0 + 100, "j0"))
    board = recompute(decisions, deliveries, events)
    rows = {r.variant: r for r in board.records(t0)}
    treated = rows["default"]
    assert (treated.fired, treated.sent, treated.delivered, treated.opened, treated.converted) == (10, 10, 10, 1, 6)
    assert (rows["holdout"].holdout, rows["holdout"].converted, treated.holdout_converted) == (10, 2, 2)
    assert treated.lift == pytest.approx(0.4)
    assert treated.lift_ci_low is not None and treated.lift_ci_high is not None
    assert treated.lift_ci_low < 0.4 < treated.lift_ci_high
    assert treated.window_start_ms == CFG.window_start(t0) and treated.window_end_ms == treated.window_start_ms + DAY_MS
    assert MetricsBoard.from_dict(board.to_dict()).records(t0) == board.records(t0)


def test_attribute_dispatches_by_record_type(fake_clock: FakeClock) -> None:
    state = UserAttribution()
    assert names(attribute(state, decision("u", "j1", "queued", fake_clock()), CFG)) == ["fired", "sent"]
    assert names(attribute(state, delivery("u", "j1", fake_clock()), CFG)) == ["delivered"]
    assert names(attribute(state, event("u", "notification_opened", fake_clock() + 1, "j1"), CFG)) == ["opened"]
    with pytest.raises(TypeError):
        attribute(state, "not a record", CFG)


def test_only_events_that_can_change_a_count_go_to_attribution() -> None:
    assert CFG.relevant(event("u", "purchase", 0))
    assert CFG.relevant(event("u", "notification_clicked", 0, "j"))
    assert CFG.relevant(event("u", "view", 0))  # retention: active again after a push
    assert not CFG.relevant(event("u", "signup", 0))


def test_relevant_types_is_relevant_as_a_set() -> None:
    types = CFG.relevant_types
    for type_ in ["view", "cart", "fav", "purchase", "app_open", "signup", "search", "notification_opened"]:
        for job in (None, "j1"):
            e = event("u1", type_, 0, job)
            assert CFG.relevant(e) == (job is not None or type_ in types), (type_, job)


def test_the_relevant_types_follow_the_config() -> None:
    cfg = AnalyticsConfig(activity_types=("app_open",), trigger_conversion_types={"promo": ("subscribe",)})
    assert cfg.relevant_types == {"app_open", "purchase", "subscribe"}
    assert not cfg.relevant(event("u", "view", 0)) and cfg.relevant(event("u", "view", 0, "j1"))
