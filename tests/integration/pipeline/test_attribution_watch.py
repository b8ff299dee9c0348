"""Attribution reads only the events that can change a count: those of users this worker pushed or held out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import decode
from schemas.records import BehaviorEvent, NotificationDecision, TriggerMetrics
from streams.fastpath.pack import unpack_entries
from streams.pipeline.feedback import EVENT
from tests.integration.pipeline.worker import FIRST_FAV, Worker, first_fav_decisions, metric
from tests.support.kafka import consume_all
from tests.support.records import event
from tests.unit.decisions.support import ms

FANS, BYSTANDERS = 30, 120
NOON = ms("2024-06-02T12:00")


@pytest.fixture
def worker(kafka_bootstrap: str, kafka_admin: Any, tmp_path: Path) -> Iterator[Worker]:
    run = Worker(kafka_bootstrap, kafka_admin, tmp_path, FIRST_FAV, first_fav_decisions(30), partitions=2)
    yield run
    run.close()


def test_events_of_users_never_pushed_are_not_forwarded_and_conversions_still_count(worker: Worker) -> None:
    fans = [f"fan-{i}" for i in range(FANS)]
    bystanders = [f"by-{i}" for i in range(BYSTANDERS)]
    worker.start("w1")  # NUDGE_ATTRIBUTION_EVENTS defaults to "touched"
    first = [event(u, "fav", NOON, item_id="i1") for u in fans] + [
        event(u, "view", NOON, item_id="i1") for u in bystanders
    ]
    worker.produce("behavior.events", first)
    decided = worker.wait_for(
        "every fan decided",
        lambda: len(d := worker.read("notifications.decisions", NotificationDecision)) == FANS and d,
    )
    outcomes = {d.user_id: d.outcome for d in decided}
    held = sum(o == "holdout" for o in outcomes.values())
    assert set(outcomes.values()) == {"queued", "holdout"} and 0 < held < FANS
    later = NOON + 3_600_000  # inside the conversion window (1 day) and the retention window (3 days)
    worker.produce("behavior.events", [event(u, "purchase", later, item_id="i1") for u in fans + bystanders])

    def funnel() -> dict[str, tuple[int, ...]]:
        latest = {m.variant: m for m in worker.read("analytics.trigger_metrics", TriggerMetrics)}
        return {v: (m.fired, m.sent, m.holdout, m.converted, m.retained) for v, m in latest.items()}

    expected = {
        "default": (FANS - held, FANS - held, 0, FANS - held, FANS - held),
        "holdout": (held, 0, held, held, held),
    }
    worker.wait_for("every fan's purchase attributed", lambda: funnel() == expected, timeout=90)

    by_user = consume_all(worker.bootstrap, worker.topic(f"{worker.app_id}.attribution.by-user"), 10**9, timeout=2.0)
    forwarded = [decode(value, BehaviorEvent) for m in by_user for tag, _, value in unpack_entries(m.value(), m.key())
                 if tag == EVENT]  # fmt: skip
    assert {e.user_id for e in forwarded} == set(fans)  # no bystander's view or purchase was re-keyed
    assert {(e.user_id, e.type) for e in forwarded} >= {(u, "purchase") for u in fans}
    body = worker.get("/metrics")[1]
    assert metric(body, "nudge_attribution_events_forwarded_total") == len(forwarded)
