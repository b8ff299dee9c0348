"""Records a firing turns into until the decision layer takes over: a queued decision and a job."""

from __future__ import annotations

from schemas.records import NotificationDecision, NotificationJob
from streams.decisions.ids import decision_id_for, job_id_for
from streams.engine.config import Trigger
from streams.engine.firing import Firing

DEFAULT_VARIANT = "default"
DEFAULT_TTL_SECONDS = 24 * 3600  # a nudge older than a day is no longer timely


def default_outputs(firing: Firing, trigger: Trigger) -> tuple[NotificationDecision, NotificationJob]:
    """A plain "queued" decision and a job with the trigger's default message; ids are deterministic."""
    job_id = job_id_for(firing.id, DEFAULT_VARIANT)
    job = NotificationJob(
        job_id=job_id,
        firing_id=firing.id,
        user_id=firing.user_id,
        trigger_id=firing.trigger_id,
        variant=DEFAULT_VARIANT,
        title=trigger.message.get("title", trigger.id),
        body=trigger.message.get("body", ""),
        data={**firing.data, "trigger_id": firing.trigger_id, "instance": firing.instance},
        collapse_key=firing.trigger_id,
        priority="normal",
        ttl_seconds=DEFAULT_TTL_SECONDS,
        created_at_ms=firing.at_ms,
        not_after_ms=firing.at_ms + DEFAULT_TTL_SECONDS * 1000,
    )
    decision = NotificationDecision(
        decision_id=decision_id_for(job_id, "queued", firing.at_ms),
        job_id=job_id,
        firing_id=firing.id,
        user_id=firing.user_id,
        trigger_id=firing.trigger_id,
        variant=DEFAULT_VARIANT,
        outcome="queued",
        event_time_ms=firing.at_ms,
        details={"instance": firing.instance},
    )
    return decision, job
