"""Recompute the metrics board from the raw decision, delivery and behaviour records."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from schemas.records import BehaviorEvent, DeliveryResult, NotificationDecision
from streams.analytics.attribution import (
    AnalyticsConfig,
    UserAttribution,
    on_decision,
    on_delivery,
    on_event,
    prune,
)
from streams.analytics.metrics import MetricsBoard


def recompute(
    decisions: Iterable[NotificationDecision],
    deliveries: Iterable[DeliveryResult],
    events: Iterable[BehaviorEvent],
    cfg: AnalyticsConfig | None = None,
) -> MetricsBoard:
    """Replay every user's decisions and events in event-time order; a job's deliveries follow its decision."""
    cfg = cfg or AnalyticsConfig()
    timeline: dict[str, list[tuple[int, int, object]]] = defaultdict(list)
    for d in decisions:
        timeline[d.user_id].append((d.event_time_ms, 0, d))
    for e in events:
        timeline[e.user_id].append((e.event_time_ms, 1, e))
    by_job: dict[str, list[DeliveryResult]] = defaultdict(list)
    for r in deliveries:
        by_job[r.job_id].append(r)
    board = MetricsBoard(window_ms=cfg.window_ms)
    for user_id, items in timeline.items():
        state = UserAttribution()
        items.sort(key=lambda x: (x[0], x[1]))
        for at_ms, _, record in items:
            prune(state, at_ms, cfg)
            if isinstance(record, NotificationDecision):
                board.add(on_decision(state, record, cfg))
                if record.outcome == "queued":
                    for r in by_job.pop(record.job_id, []):
                        if r.user_id == user_id:
                            board.add(on_delivery(state, r, cfg))
            else:
                assert isinstance(record, BehaviorEvent)
                board.add(on_event(state, record, cfg))
    for results in by_job.values():  # jobs whose decision is not on the log: counted as delivered only
        orphan = UserAttribution()
        for r in results:
            board.add(on_delivery(orphan, r, cfg))
    return board
