"""Holdout and A/B/n assignment: deterministic buckets by (user, trigger, experiment version)."""

from __future__ import annotations

from dataclasses import dataclass

from streams.decisions.config import Cap, DecisionConfig, TriggerPolicy, Variant
from streams.decisions.ids import unit_interval

HOLDOUT = "holdout"


@dataclass(frozen=True, slots=True)
class Assignment:
    """A user's arm in a trigger's experiment, with the timing and cap that arm uses."""

    variant: str
    holdout: bool
    send_delay_ms: int
    send_hour: int | None
    abandonment_window_ms: int | None
    discount_code: str | None


def in_holdout(user_id: str, policy: TriggerPolicy) -> bool:
    """Whether the user is in the trigger's holdout control group."""
    bucket = unit_interval("holdout", user_id, policy.trigger_id, policy.experiment_version)
    return bucket * 100 < policy.holdout_pct


def pick_variant(user_id: str, policy: TriggerPolicy) -> Variant:
    """The weighted variant for the user; independent of the holdout bucket (different salt)."""
    total = sum(v.weight for v in policy.variants)
    point = unit_interval("variant", user_id, policy.trigger_id, policy.experiment_version) * total
    for variant in policy.variants:
        point -= variant.weight
        if point < 0:
            return variant
    return policy.variants[-1]  # float rounding at the top edge


def assign(user_id: str, trigger_id: str, config: DecisionConfig) -> Assignment:
    """The user's arm for a trigger; the engine may read `abandonment_window_ms` when arming a timer."""
    policy = config.policy(trigger_id)
    variant = pick_variant(user_id, policy)
    return Assignment(
        variant=HOLDOUT if in_holdout(user_id, policy) else variant.name,
        holdout=in_holdout(user_id, policy),
        send_delay_ms=variant.send_delay_ms if variant.send_delay_ms is not None else policy.send_delay_ms,
        send_hour=variant.send_hour if variant.send_hour is not None else policy.send_hour,
        abandonment_window_ms=variant.abandonment_window_ms,
        discount_code=variant.discount_code if variant.discount_code is not None else policy.discount_code,
    )


def variant_cap(policy: TriggerPolicy, variant_name: str) -> Cap | None:
    """The per-trigger cap in force for a variant (a variant may override the trigger's)."""
    for variant in policy.variants:
        if variant.name == variant_name and variant.cap is not None:
            return variant.cap
    return policy.cap
