"""The simulated world: deterministic, in event-time order, valid records, and a detectable true effect."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from connectors.simulator.errors import BadConfigError
from connectors.simulator.personas import DAY_MS, HOUR_MS, PERSONAS, make_user
from connectors.simulator.reaction import ReactionModel
from connectors.simulator.world import SimConfig, World
from schemas.records import BehaviorEvent, CatalogItem, DeviceToken, UserProfile
from schemas.rules import validate
from streams.analytics.stats import newcombe_diff

SMALL = SimConfig(users=150, days=2, seed=11)


def times(records: list) -> list[int]:
    return [getattr(r, "event_time_ms", None) or r.updated_at_ms for r in records]


def test_same_seed_same_world_other_seed_other_world() -> None:
    a = World(SMALL).advance(SMALL.end_ms)
    b = World(SMALL).advance(SMALL.end_ms)
    c = World(SimConfig(users=150, days=2, seed=12)).advance(SMALL.end_ms)
    assert a == b
    assert a != c


def test_records_come_in_event_time_order_inside_the_span_and_pass_the_contract() -> None:
    world = World(SMALL)
    records: list = []
    for step in range(1, 9):  # advancing in slices gives the same as one big step
        records += world.advance(SMALL.start_ms + step * (SMALL.end_ms - SMALL.start_ms) // 8)
    assert records == World(SMALL).advance(SMALL.end_ms)
    assert times(records) == sorted(times(records))
    assert SMALL.start_ms <= min(times(records)) and max(times(records)) <= SMALL.end_ms
    for r in records:
        validate(r, now_ms=SMALL.end_ms)
    kinds = Counter(type(r) for r in records)
    assert kinds[UserProfile] == kinds[DeviceToken] == 150
    assert kinds[CatalogItem] > 0
    types = Counter(r.type for r in records if isinstance(r, BehaviorEvent))
    assert {"signup", "app_open", "view", "cart", "purchase"} <= set(types)


def test_population_mixes_personas_zones_and_opt_outs() -> None:
    users = [make_user(3, i, SMALL.start_ms) for i in range(600)]
    assert {u.persona.name for u in users} == {p.name for p in PERSONAS}
    assert len({u.profile.time_zone for u in users}) >= 6
    assert any(u.profile.unsubscribed for u in users)
    assert any(u.profile.opted_out_channels for u in users)
    assert all(u.profile.first_name for u in users)
    new = [u for u in users if u.persona.new_user]
    assert all(SMALL.start_ms <= u.joins_at_ms < SMALL.start_ms + DAY_MS for u in new)


def test_a_push_gets_feedback_with_its_job_id_later_and_only_once() -> None:
    world = World(SMALL)
    world.advance(SMALL.start_ms + DAY_MS)
    user = next(
        u for u in world.users.values() if u.profile.time_zone == "Europe/London" and u.persona.name == "browser"
    )
    at = SMALL.start_ms + DAY_MS + 12 * HOUR_MS  # midday in London: not quiet hours
    for i in range(40):
        assert world.push(f"job{i}", user.user_id, "cart_abandoned", "default", at)
    assert not world.push("job0", user.user_id, "cart_abandoned", "default", at)
    assert not world.push("jobx", "nobody", "cart_abandoned", "urgent", at)
    feedback = [r for r in world.advance(SMALL.end_ms + DAY_MS) if isinstance(r, BehaviorEvent) and r.job_id]
    hits = len({r.job_id for r in feedback if r.type == "notification_opened"})
    assert 5 <= hits <= 25  # open rate 0.35 for this persona at midday
    assert all(r.event_time_ms > at and r.user_id == user.user_id for r in feedback)


@pytest.mark.parametrize(("hour_utc", "factor"), [(3, 0.3), (12, 1.0), (19, 1.2)])
def test_timing_changes_the_open_rate(hour_utc: int, factor: float) -> None:
    user = next(u for i in range(100) if (u := make_user(1, i, SMALL.start_ms)).profile.time_zone == "Europe/London")
    at = SMALL.start_ms + hour_utc * HOUR_MS  # 2023-11-14: London is on UTC
    assert ReactionModel().timing_factor(user, at) == factor


def test_the_better_variant_wins_with_a_ci_that_excludes_zero() -> None:
    model = ReactionModel(variant_effects={"urgent": 1.6})
    users = [make_user(5, i, SMALL.start_ms) for i in range(50)]
    rng = random.Random(99)
    at = SMALL.start_ms + 12 * HOUR_MS
    conv = {
        v: sum(
            model.react(rng, users[i % 50], "cart_abandoned", v, at).convert_after_ms is not None for i in range(3000)
        )
        for v in ("default", "urgent")
    }
    diff, low, _ = newcombe_diff(conv["urgent"], 3000, conv["default"], 3000)  # type: ignore[misc]
    assert diff > 0 and low > 0


def test_treated_users_convert_more_than_the_holdout() -> None:
    """Same world twice: pushing every abandoned cart lifts purchases above the no-push base rate."""
    cfg = SimConfig(users=400, days=2, seed=4)

    def purchases(push: bool) -> int:
        world = World(cfg)
        bought = 0
        t = cfg.start_ms
        while t < cfg.end_ms + DAY_MS:
            t += HOUR_MS
            for r in world.advance(t):
                if isinstance(r, BehaviorEvent) and r.type == "cart" and push:
                    world.push(f"j-{r.event_id}", r.user_id, "cart_abandoned", "default", r.event_time_ms + 30 * 60_000)
                bought += isinstance(r, BehaviorEvent) and r.type == "purchase"
        return bought

    assert purchases(push=True) > purchases(push=False) * 1.1


def test_bad_config_is_refused() -> None:
    with pytest.raises(BadConfigError):
        SimConfig(users=0)
