"""Record builders for analytics tests."""

from __future__ import annotations

from schemas.records import BehaviorEvent, DeliveryResult, NotificationDecision


def decision(
    user: str,
    job: str,
    outcome: str,
    at_ms: int,
    trigger: str = "cart_abandoned",
    variant: str | None = "default",
    reason: str | None = None,
) -> NotificationDecision:
    return NotificationDecision(
        decision_id=f"d-{job}-{outcome}-{at_ms}",
        job_id=job,
        firing_id=f"f-{job}",
        user_id=user,
        trigger_id=trigger,
        variant="holdout" if outcome == "holdout" else variant,
        outcome=outcome,
        reason=reason,
        event_time_ms=at_ms,
    )


def delivery(
    user: str, job: str, at_ms: int, status: str = "sent", trigger: str = "cart_abandoned", variant: str = "default"
) -> DeliveryResult:
    return DeliveryResult(
        job_id=job,
        user_id=user,
        trigger_id=trigger,
        variant=variant,
        provider="fcm",
        status=status,
        attempt=1,
        at_ms=at_ms,
    )


def event(user: str, type_: str, at_ms: int, job: str | None = None) -> BehaviorEvent:
    return BehaviorEvent(
        event_id=f"e-{user}-{type_}-{at_ms}", user_id=user, type=type_, event_time_ms=at_ms, job_id=job
    )
