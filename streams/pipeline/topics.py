"""The topic names the stream worker reads and writes, with the deployment prefix applied."""

from __future__ import annotations

from dataclasses import dataclass

from schemas import topics


@dataclass(frozen=True)
class EngineTopics:
    """Topic names the engine reads and writes (with the deployment prefix applied)."""

    events: str
    profiles: str
    catalog: str
    fanout: str
    ticks: str
    decisions: str
    jobs: str
    delivery: str
    trigger_metrics: str
    by_user: str
    counts: str

    @classmethod
    def named(cls, prefix: str, app_id: str) -> EngineTopics:
        def p(name: str) -> str:
            return topics.prefixed(prefix, name)

        return cls(
            events=p(topics.BEHAVIOR_EVENTS),
            profiles=p(topics.USER_PROFILES),
            catalog=p(topics.CATALOG_UPDATES),
            fanout=p(f"{app_id}.engine.catalog-fanout"),
            ticks=p(f"{app_id}.engine.ticks"),
            decisions=p(topics.NOTIFICATION_DECISIONS),
            jobs=p(topics.NOTIFICATION_JOBS),
            delivery=p(topics.NOTIFICATION_DELIVERY),
            trigger_metrics=p(topics.TRIGGER_METRICS),
            by_user=p(f"{app_id}.attribution.by-user"),
            counts=p(f"{app_id}.attribution.counts"),
        )
