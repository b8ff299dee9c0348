"""The Taobao clickstream's first hour through a real worker with quiet hours and a cap vs an independent count."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.codec import decode
from schemas.records import BehaviorEvent, NotificationDecision, NotificationJob, UserProfile
from tests.integration.decisions.test_taobao_decisions import (
    CONFIG,
    TRIGGERS,
    expected_outcomes,
    load_first_actions,
    unsubscribed,
    zone_of,
)
from tests.integration.engine.replay import load_rows
from tests.integration.pipeline.worker import Worker, metric
from tests.support.kafka import consume_all

pytestmark = [pytest.mark.data, pytest.mark.slow]
HOUR_S = 3600
PARTITIONS = 2
DAY_MS = 86_400_000
# The oracle's triggers (first cart, first fav), with its priorities and max delays as trigger data.
TRIGGER_FILE = "triggers:\n" + "".join(
    f"  - {{id: {t}, kind: event, on: {kind}, occurrence: first, data: {{priority: '{p}', max_delay: {d}ms}}}}\n"
    for kind, (t, p, d) in TRIGGERS.items()
)


@pytest.fixture
def worker(kafka_bootstrap: str, kafka_admin: Any, tmp_path: Path) -> Iterator[Worker]:
    run = Worker(kafka_bootstrap, kafka_admin, tmp_path, TRIGGER_FILE, yaml.safe_dump(CONFIG), PARTITIONS)
    yield run
    run.close()


def first_hour(taobao_file: Path, tmp_path: Path) -> Path:
    """The file's first hour of rows (it is in time order), as a file the oracle reads."""
    lines = taobao_file.read_text().splitlines(keepends=True)
    stamps = [line.rstrip().rsplit(",", 1)[-1] for line in lines]
    start = int(stamps[0])
    subset = [line for line, ts in zip(lines, stamps, strict=True) if len(ts) == 10 and int(ts) < start + HOUR_S]
    path = tmp_path / "first_hour.csv"
    path.write_text("".join(subset))
    return path


def test_first_hour_decisions_match_the_independent_count(worker: Worker, taobao_file: Path, tmp_path: Path) -> None:
    path = first_hour(taobao_file, tmp_path)
    rows, bad = load_rows(path)
    assert bad == 0 and len(rows) > 40_000
    actions = load_first_actions(path)
    expected = expected_outcomes(actions)
    total = sum(expected.values())
    # every outcome the config can produce occurs in this hour, so no branch of the comparison is vacuous
    assert {"suppressed", "holdout", "deferred", "queued", "expired"} <= set(expected)

    worker.start("w1", NUDGE_ATTRIBUTION="false")  # decisions only: attribution would double the work
    worker.wait_for("ready", lambda: worker.get("/ready")[0] == 200, timeout=90)
    users = sorted({a[2] for a in actions})
    first_ms = rows[0].ts_ms
    profiles = [UserProfile(user_id=u, time_zone=zone_of(u), unsubscribed=unsubscribed(u), updated_at_ms=first_ms)
                for u in users]  # fmt: skip
    worker.produce("user.profiles", profiles)
    profiles_topic = worker.topic("user.profiles")
    # profiles first: the worker reads several topics, and a user's zone must be known before their events
    worker.wait_for(
        "profiles read",
        lambda: metric(worker.get("/metrics")[1], "nudge_stream_events_in_total", topic=profiles_topic) == len(users),
    )
    events = [BehaviorEvent(event_id=f"taobao-{r.line}", user_id=r.user, type=r.type, event_time_ms=r.ts_ms,
                            item_id=r.item, category=r.category) for r in rows]  # fmt: skip
    worker.produce("behavior.events", events)
    # replay time moves only with events: one far-future event per partition lets every deferred job come due
    end = rows[-1].ts_ms + 3 * DAY_MS
    for p in range(PARTITIONS):
        worker.produce("behavior.events", [BehaviorEvent(event_id=f"end-{p}", user_id=f"end-{p}", type="view",
                                                         event_time_ms=end)], partition=p)  # fmt: skip

    messages = consume_all(worker.bootstrap, worker.topic("notifications.decisions"), total, timeout=240)
    decisions = [decode(m.value(), NotificationDecision) for m in messages]
    late = consume_all(worker.bootstrap, worker.topic("notifications.decisions"), total + 1, timeout=8)
    assert len(late) == total, f"{len(late) - total} decisions beyond the expected count"
    assert len({d.decision_id for d in decisions}) == len(decisions)  # no duplicates without a crash
    counts = Counter(d.outcome for d in decisions)
    assert counts == expected, worker.logs()
    jobs = consume_all(worker.bootstrap, worker.topic("notifications.jobs"), counts["queued"] + 1, timeout=8)
    assert len(jobs) == counts["queued"]
    job = decode(jobs[0].value(), NotificationJob)
    assert job.title == "Hi" and job.trigger_id in ("first_cart", "first_fav")  # no profile: the copy needs no name
    print(dict(sorted(counts.items())))
