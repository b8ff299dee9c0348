"""Default topic names of the contract and the dead-letter naming rule."""

from __future__ import annotations

BEHAVIOR_EVENTS = "behavior.events"
USER_PROFILES = "user.profiles"
DEVICE_TOKENS = "device.tokens"
CATALOG_UPDATES = "catalog.updates"
NOTIFICATION_JOBS = "notifications.jobs"
NOTIFICATION_DECISIONS = "notifications.decisions"
NOTIFICATION_DELIVERY = "notifications.delivery"
JOBS_RETRY = "notifications.jobs.retry"
JOBS_DLQ = "notifications.jobs.dlq"
BEHAVIOR_EVENTS_DLQ = "behavior.events.dlq"
TRIGGER_METRICS = "analytics.trigger_metrics"

DLQ_SUFFIX = ".dlq"


def dlq_for(topic: str) -> str:
    """Name of the dead-letter topic of `topic`."""
    return f"{topic}{DLQ_SUFFIX}"


def prefixed(prefix: str, topic: str) -> str:
    """`topic` under an optional deployment prefix (empty prefix: unchanged)."""
    return f"{prefix}{topic}" if prefix else topic
