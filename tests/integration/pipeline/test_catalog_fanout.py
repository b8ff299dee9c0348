"""A catalog update reaches every partition's users: the worker creates its fan-out topic with all partitions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import Producer

from schemas.codec import encode
from schemas.records import BehaviorEvent, CatalogItem, NotificationJob
from tests.integration.pipeline.worker import Worker
from tests.unit.decisions.support import ms

PARTITIONS = 3
TRIGGERS = """
triggers:
  - {id: fav_cat, kind: recommendation, source: new_arrival, by: category, min_affinity: 3, half_life: 7d}
"""
DECISIONS = """
default_holdout_pct: 0
budget: {max: 10, per: 24h, min_gap: 0}
templates:
  fav_cat: {default: {en: {title: "New in {{ event.get('category') }}", body: "Fresh arrivals"}}}
"""


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, kafka_admin: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    run = Worker(kafka_bootstrap, kafka_admin, tmp_path_factory.mktemp("fanout"), TRIGGERS, DECISIONS, PARTITIONS)
    run.start("w1")
    yield run
    run.close()


def test_a_new_arrival_reaches_fans_in_every_partition(worker: Worker) -> None:
    noon = ms("2024-06-03T12:00")
    fans = [f"fan{i}" for i in range(12)]
    home = {user: i % PARTITIONS for i, user in enumerate(fans)} | {"other": 0}  # fans in every partition
    events = []
    for user in [*fans, "other"]:
        category = "other" if user == "other" else "shoes"
        events += [
            BehaviorEvent(event_id=f"{user}-c", user_id=user, type="cart", event_time_ms=noon, category=category),
            BehaviorEvent(event_id=f"{user}-v", user_id=user, type="view", event_time_ms=noon + 1, category=category),
        ]
    for e in events:
        worker.producer.produce(
            worker.topic("behavior.events"), encode(e), key=e.user_id.encode(), partition=home[e.user_id]
        )
    assert worker.producer.flush(30) == 0
    item = CatalogItem(item_id="boot-1", kind="new_arrival", category="shoes", title="Winter boots",
                       event_time_ms=noon + 60_000)  # fmt: skip
    producer = Producer({"bootstrap.servers": worker.bootstrap})
    producer.produce(worker.topic("catalog.updates"), encode(item), key=b"boot-1")
    assert producer.flush(30) == 0
    jobs = worker.wait_for(
        "a job for every fan",
        lambda: (
            {j.user_id: j for j in worker.read("notifications.jobs", NotificationJob)}.keys() >= set(fans)
            and worker.read("notifications.jobs", NotificationJob)
        ),
    )
    assert sorted(j.user_id for j in jobs) == sorted(fans)  # exactly once each, and not the other user
    assert {(j.title, j.body) for j in jobs} == {("New in shoes", "Fresh arrivals")}
    assert "Crashed" not in worker.logs()
