"""The simulator's known true effect is detected by the analytics: the better variant wins, holdout converts less."""

from __future__ import annotations

import hashlib

from connectors.simulator.reaction import ReactionModel
from connectors.simulator.world import SimConfig, World
from schemas.records import BehaviorEvent, DeliveryResult, NotificationDecision
from streams.analytics.batch import recompute

STEP_MS = 5 * 60_000
WINDOW_MS = 30 * 60_000  # the cart reminder's abandonment window


def arm(user_id: str, cart_id: str) -> str:
    """A stand-in for the decision layer's bucketing: 20% holdout, the rest split between two variants."""
    bucket = int(hashlib.sha256(f"{user_id}|{cart_id}".encode()).hexdigest()[:8], 16) % 100
    return "holdout" if bucket < 20 else ("default" if bucket < 60 else "urgent")


def run(users: int, seed: int) -> tuple[list, list, list]:
    """Simulate; every cart not bought within 30 minutes gets a decision, treated users get the push."""
    cfg = SimConfig(users=users, days=3, seed=seed, reactions=ReactionModel(variant_effects={"urgent": 1.6}))
    world = World(cfg)
    decisions: list[NotificationDecision] = []
    deliveries: list[DeliveryResult] = []
    events: list[BehaviorEvent] = []
    open_carts: dict[str, dict[str, int]] = {}
    t = cfg.start_ms
    while t < cfg.end_ms + 2 * 86_400_000:
        t += STEP_MS
        for r in world.advance(t):
            if not isinstance(r, BehaviorEvent):
                continue
            events.append(r)
            if r.type == "cart" and r.cart_id:
                open_carts.setdefault(r.user_id, {})[r.cart_id] = r.event_time_ms
            elif r.type == "purchase":
                open_carts.pop(r.user_id, None)  # a purchase cancels the reminder
        for user_id, carts in list(open_carts.items()):
            for cart_id, at in list(carts.items()):
                if at + WINDOW_MS > t:
                    continue
                del carts[cart_id]
                variant = arm(user_id, cart_id)
                job = f"j-{cart_id}"
                outcome = "holdout" if variant == "holdout" else "queued"
                decisions.append(
                    NotificationDecision(
                        decision_id=f"d-{job}", job_id=job, firing_id=cart_id, user_id=user_id,
                        trigger_id="cart_abandoned", variant=variant, outcome=outcome, event_time_ms=at + WINDOW_MS,
                    )
                )  # fmt: skip
                if outcome == "queued":
                    deliveries.append(
                        DeliveryResult(
                            job_id=job, user_id=user_id, trigger_id="cart_abandoned", variant=variant,
                            provider="fcm", status="sent", attempt=1, at_ms=at + WINDOW_MS,
                        )
                    )  # fmt: skip
                    world.push(job, user_id, "cart_abandoned", variant, at + WINDOW_MS)
    return decisions, deliveries, events


def test_better_variant_wins_and_holdout_converts_less() -> None:
    decisions, deliveries, events = run(users=900, seed=21)
    rows = {r.variant: r for r in recompute(decisions, deliveries, events).collapsed().records(0)}
    urgent, default, holdout = rows["urgent"], rows["default"], rows["holdout"]
    assert min(urgent.sent, default.sent, holdout.holdout) >= 100
    assert urgent.opened / urgent.delivered > default.opened / default.delivered
    assert holdout.converted / holdout.holdout < default.converted / default.sent < urgent.converted / urgent.sent
    assert urgent.lift_ci_low is not None and urgent.lift_ci_low > 0  # the CI excludes zero
