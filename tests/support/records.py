"""Record builders for tests: a BehaviorEvent, a NotificationDecision or a DeliveryResult in one call."""

from __future__ import annotations

from typing import Any

from schemas.records import BehaviorEvent, DeliveryResult, NotificationDecision


def event(user: str, type_: str, at_ms: int, job: str | None = None, *, event_id: str | None = None,
          **fields: Any) -> BehaviorEvent:  # fmt: skip
    """A behaviour event; its id is `user-type-time` unless given (event triggers derive firing ids from it)."""
    return BehaviorEvent(event_id=f"{user}-{type_}-{at_ms}" if event_id is None else event_id, user_id=user, type=type_,
                         event_time_ms=at_ms, job_id=job, **fields)  # fmt: skip


def decision(user: str, job: str, outcome: str, at_ms: int, trigger: str = "cart_abandoned",
             variant: str | None = "default", reason: str | None = None, *, decision_id: str | None = None,
             firing_id: str | None = None, **fields: Any) -> NotificationDecision:  # fmt: skip
    """A decision about `job`; a holdout's variant is `holdout`, as the decision layer writes it."""
    return NotificationDecision(
        decision_id=f"d-{job}-{outcome}-{at_ms}" if decision_id is None else decision_id,
        job_id=job,
        firing_id=f"f-{job}" if firing_id is None else firing_id,
        user_id=user,
        trigger_id=trigger,
        variant="holdout" if outcome == "holdout" else variant,
        outcome=outcome,
        reason=reason,
        event_time_ms=at_ms,
        **fields,
    )


def delivery(user: str, job: str, at_ms: int, status: str = "sent", trigger: str = "cart_abandoned",
             variant: str = "default", attempt: int = 1) -> DeliveryResult:  # fmt: skip
    """A delivery result for `job` from the FCM provider."""
    return DeliveryResult(job_id=job, user_id=user, trigger_id=trigger, variant=variant, provider="fcm",
                          status=status, attempt=attempt, at_ms=at_ms)  # fmt: skip
