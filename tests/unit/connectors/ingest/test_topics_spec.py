"""The declarative topic spec."""

from __future__ import annotations

from connectors.ingest.topics_spec import default_specs
from schemas import topics


def test_spec_covers_the_contract_topics() -> None:
    specs = {s.name: s for s in default_specs(partitions=6)}
    assert set(specs) >= {
        topics.BEHAVIOR_EVENTS,
        topics.USER_PROFILES,
        topics.DEVICE_TOKENS,
        topics.CATALOG_UPDATES,
        topics.NOTIFICATION_JOBS,
        topics.NOTIFICATION_DECISIONS,
        topics.NOTIFICATION_DELIVERY,
        topics.JOBS_RETRY,
        topics.JOBS_DLQ,
        topics.BEHAVIOR_EVENTS_DLQ,
        topics.TRIGGER_METRICS,
    }
    assert specs[topics.USER_PROFILES].config["cleanup.policy"] == "compact"
    assert specs[topics.DEVICE_TOKENS].config["cleanup.policy"] == "compact"
    assert specs[topics.BEHAVIOR_EVENTS].config == {"cleanup.policy": "delete", "retention.ms": str(7 * 86_400_000)}
    # user-keyed topics share one partition count so co-partitioned joins line up
    keyed = [topics.BEHAVIOR_EVENTS, topics.USER_PROFILES, topics.DEVICE_TOKENS, topics.NOTIFICATION_JOBS]
    assert {specs[n].partitions for n in keyed} == {6}
