"""Preferences and consent, holdout and A/B/n bucketing, deterministic ids, config errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest

from streams.decisions import DecisionState, assign, decide, job_id_for, parse_config
from streams.decisions.errors import DecisionConfigError
from streams.decisions.ids import unit_interval
from tests.unit.decisions.support import config, firing, ms, profile

NOON = ms("2024-06-01T12:00")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"unsubscribed": True}, "unsubscribed"),
        ({"opted_out_channels": ["push"]}, "opted_out_channel"),
        ({"opted_out_categories": ["promotions"]}, "opted_out_category"),  # the trigger's category
        ({"opted_out_categories": ["shoes"]}, "opted_out_category"),  # the product's category
        ({"max_per_week": 0}, "opted_out_frequency"),
        ({"opted_out_channels": ["email"]}, None),
        ({"opted_out_categories": ["news"]}, None),
        ({}, None),
    ],
)
def test_preferences_suppress_before_anything_else(fields: dict[str, Any], reason: str | None) -> None:
    cfg = config(triggers={"t": {"category": "promotions", "holdout_pct": 100}})
    out = decide(firing(event={"category": "shoes"}), profile(**fields), DecisionState(), cfg, NOON)
    (decision,) = out.decisions
    if reason is None:
        assert decision.outcome == "holdout"  # preferences passed; the 100% holdout is the next step
    else:
        assert (decision.outcome, decision.reason) == ("suppressed", reason)
        assert out.jobs == [] and out.timers == [] and out.state == DecisionState()
    assert decision.job_id.startswith("j-")


def test_no_profile_yet_is_not_an_opt_out() -> None:
    out = decide(firing(), None, DecisionState(), config(), NOON)
    assert [d.outcome for d in out.decisions] == ["queued"] and out.jobs[
        0
    ].title == "Hi"  # no name yet: the copy reads well without one


def test_holdout_is_on_by_default_and_recorded() -> None:
    cfg = parse_config({"templates": {}})
    assert cfg.policy("anything").holdout_pct == 5.0
    users = [f"user-{i}" for i in range(4000)]
    held = [u for u in users if assign(u, "t", cfg).holdout]
    assert 0.035 < len(held) / len(users) < 0.065
    out = decide(firing(user_id=held[0]), profile(held[0]), DecisionState(), cfg, NOON)
    assert [(d.outcome, d.variant, d.reason) for d in out.decisions] == [("holdout", "holdout", "control_group")]
    assert out.jobs == []


@pytest.mark.parametrize("pct", [0, 10, 50, 100])
def test_holdout_percentage_is_respected(pct: int) -> None:
    cfg = config(triggers={"t": {"holdout_pct": pct}})
    share = sum(assign(f"u{i}", "t", cfg).holdout for i in range(5000)) / 5000
    assert abs(share - pct / 100) < 0.025


def test_variant_weights_and_independence_from_holdout() -> None:
    cfg = config(
        triggers={"t": {"holdout_pct": 20, "variants": {"a": {"weight": 1}, "b": {"weight": 2}, "c": {"weight": 1}}}}
    )
    arms = Counter(assign(f"u{i}", "t", cfg).variant for i in range(20000))
    assert abs(arms["holdout"] / 20000 - 0.20) < 0.02
    sent = 20000 - arms["holdout"]
    assert abs(arms["b"] / sent - 0.5) < 0.02 and abs(arms["a"] / sent - 0.25) < 0.02


def test_experiment_version_reshuffles_buckets() -> None:
    v1 = config(triggers={"t": {"holdout_pct": 50, "experiment_version": 1}})
    v2 = config(triggers={"t": {"holdout_pct": 50, "experiment_version": 2}})
    same = sum(assign(f"u{i}", "t", v1).holdout == assign(f"u{i}", "t", v2).holdout for i in range(2000))
    assert 800 < same < 1200  # independent, not identical


def test_buckets_and_ids_are_stable_across_processes() -> None:
    code = (
        "from streams.decisions.ids import unit_interval, job_id_for;"
        "print(unit_interval('holdout','u1','t',1), job_id_for('f1','a'))"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed}
        ).stdout
        for seed in ("1", "2")
    }
    assert outs == {f"{unit_interval('holdout', 'u1', 't', 1)} {job_id_for('f1', 'a')}\n"}
    assert job_id_for("f1", "a") == "j-" + __import__("hashlib").sha256(b"job\x1ff1\x1fa").hexdigest()[:32]
    assert job_id_for("f1", "a") != job_id_for("f1", "b") != job_id_for("f2", "a")


def test_variant_overrides_timing_and_discount() -> None:
    cfg = config(
        triggers={
            "t": {
                "discount_code": "BASE",
                "variants": {"slow": {"send_delay": "2h", "discount_code": "V", "abandonment_window": "20m"}},
            }
        }
    )
    arm = assign("u1", "t", cfg)
    assert (arm.variant, arm.send_delay_ms, arm.discount_code, arm.abandonment_window_ms) == (
        "slow",
        7_200_000,
        "V",
        1_200_000,
    )
    out = decide(firing(at_ms=NOON, max_delay_ms=86_400_000), profile(), DecisionState(), cfg, NOON)
    assert [(d.outcome, d.reason, d.due_at_ms) for d in out.decisions] == [("deferred", "send_delay", NOON + 7_200_000)]


def test_state_round_trips_through_json() -> None:
    cfg = config(quiet_hours={"start": "00:00", "end": "23:59"})
    state = decide(
        firing(at_ms=NOON, cart=[{"title": "x", "price": 1.5}], cancel_key="c"), profile(), DecisionState(), cfg, NOON
    ).state
    state = decide(firing(n=2, transactional=True), profile(), state, config(), NOON).state
    back = DecisionState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert back == state and len(back.pending) == 1 and len(back.sent) == 1
    assert DecisionState.from_dict(None) == DecisionState()


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"budget": {"max": 0}}, "budget.max"),
        ({"budget": {"per": "soon"}}, "budget.per"),
        ({"quiet_hours": {"start": "25:00"}}, "quiet_hours.start"),
        ({"default_time_zone": "Mars/Base"}, "default_time_zone"),
        ({"on_budget_short": "maybe"}, "on_budget_short"),
        ({"triggers": {"t": {"holdout_pct": 120}}}, "triggers.t.holdout_pct"),
        ({"triggers": {"t": {"variants": {"a": {"weight": -1}}}}}, "triggers.t.variants.a.weight"),
        ({"triggers": {"t": {"send_hour": 24}}}, "triggers.t.send_hour"),
        ({"triggers": {"t": {"cap": {"max": 1}}}}, "triggers.t.cap"),
    ],
)
def test_config_errors_name_the_key(raw: dict[str, Any], key: str) -> None:
    with pytest.raises(DecisionConfigError, match=key.replace(".", r"\.")):
        parse_config(raw)
