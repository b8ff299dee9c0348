"""One real worker: dead letters, a purchase cancelling a deferred reminder, attribution, readiness and metrics."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import decode
from schemas.records import (
    DeadLetter,
    NotificationDecision,
    NotificationJob,
    TriggerMetrics,
)
from tests.integration.pipeline.worker import NUDGE, ROOT, Worker, metric
from tests.support.net import free_port
from tests.support.records import decision, delivery, event
from tests.unit.decisions.support import ms

TRIGGERS = """
triggers:
  - {id: cart_abandoned, kind: absence, on: cart, stop: purchase, key: cart_id, within: 30m,
     data: {priority: "10", max_delay: 12h}}
  - {id: first_fav, kind: event, on: fav, occurrence: first}
"""
DECISIONS = """
default_holdout_pct: 0
quiet_hours: {start: "22:00", end: "08:00"}
budget: {max: 10, per: 24h, min_gap: 0}
templates:
  cart_abandoned: {default: {en: {title: "You left something", body: "Cart {{ event.cart_id }}"}}}
  first_fav: {default: {en: {title: "Nice pick", body: "Item {{ event.item_id }}"}}}
"""
MINUTE = 60_000
# The attribution test publishes decisions itself (not made by this worker): attribution must see every event.
ALL_EVENTS = {"NUDGE_ATTRIBUTION_EVENTS": "all"}


class Readiness:
    """Polls /ready from the worker's start and keeps every status seen, in order."""

    def __init__(self, worker: Worker) -> None:
        self.seen: list[int] = []
        self.thread = threading.Thread(target=self._poll, args=(worker,), daemon=True)
        self.thread.start()

    def _poll(self, worker: Worker) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status = worker.get("/ready")[0]
            if not self.seen or self.seen[-1] != status:
                self.seen.append(status)
            if status == 200:
                return
            time.sleep(0.05)

    def wait(self) -> list[int]:
        self.thread.join(timeout=100)
        return self.seen


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, kafka_admin: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    run = Worker(kafka_bootstrap, kafka_admin, tmp_path_factory.mktemp("worker"), TRIGGERS, DECISIONS, partitions=1)
    run.start("w1", **ALL_EVENTS)
    run.readiness = Readiness(run)
    yield run
    run.close()


def decisions_of(worker: Worker, user: str) -> list[tuple[str, str | None]]:
    return [(d.outcome, d.reason) for d in worker.read("notifications.decisions", NotificationDecision)
            if d.user_id == user]  # fmt: skip


def test_ready_only_after_recovery_and_health(worker: Worker) -> None:
    seen = worker.readiness.wait()
    assert seen[-1] == 200, worker.logs()
    assert 503 in seen  # the web server answered before the tables had recovered
    assert worker.get("/health")[0] == 200


def test_garbage_goes_to_the_dlq_while_valid_events_flow(worker: Worker) -> None:
    noon = ms("2024-06-01T12:00")
    worker.produce("behavior.events", [event("dlq-a", "fav", noon, item_id="i1")], raw=[b"not avro", b""])
    worker.produce("behavior.events", [event("dlq-b", "fav", noon + 1, item_id="i2")])
    jobs = worker.wait_for(
        "jobs of both valid events",
        lambda: {j.user_id for j in worker.read("notifications.jobs", NotificationJob)} >= {"dlq-a", "dlq-b"},
    )
    assert jobs
    letters = worker.wait_for("two dead letters", lambda: len(worker.read("behavior.events.dlq")) >= 2)
    letters = worker.read("behavior.events.dlq")
    kinds = sorted(decode(m.value(), DeadLetter).error_kind for m in letters)
    assert kinds == ["bad_framing", "empty_value"]
    assert all(decode(m.value(), DeadLetter).source_topic == worker.topic("behavior.events") for m in letters)


def test_a_purchase_cancels_a_deferred_cart_reminder(worker: Worker) -> None:
    night = ms("2024-06-01T22:40")
    worker.produce("behavior.events", [
        event("ann", "cart", night, cart_id="a1"),
        event("bob", "cart", night + 1, cart_id="b1"),
        event("zed", "view", night + 35 * MINUTE),  # stream time passes both deadlines (23:10, in quiet hours)
    ])  # fmt: skip
    worker.wait_for(
        "both reminders deferred", lambda: len(decisions_of(worker, "ann") + decisions_of(worker, "bob")) == 2
    )
    assert decisions_of(worker, "ann") == [("deferred", "quiet_hours")]
    worker.produce("behavior.events", [event("ann", "purchase", night + 50 * MINUTE, cart_id="a1")])
    worker.wait_for("ann's reminder cancelled", lambda: len(decisions_of(worker, "ann")) == 2)
    assert decisions_of(worker, "ann") == [("deferred", "quiet_hours"), ("cancelled", "purchase")]
    worker.produce("behavior.events", [event("zed", "view", ms("2024-06-02T08:05"))])
    worker.wait_for("bob's reminder sent in the morning", lambda: len(decisions_of(worker, "bob")) == 2)
    assert decisions_of(worker, "bob") == [("deferred", "quiet_hours"), ("queued", None)]
    jobs = [j for j in worker.read("notifications.jobs", NotificationJob) if j.user_id in ("ann", "bob")]
    assert [(j.user_id, j.created_at_ms, j.body) for j in jobs] == [("bob", ms("2024-06-02T08:00"), "Cart b1")]


def test_attribution_publishes_trigger_metrics(worker: Worker) -> None:
    at = ms("2024-06-02T12:00")
    sent = decision("att-1", "job-a1", "queued", at, "promo")
    held = decision("att-2", "job-a2", "holdout", at, "promo")
    delivered = delivery("att-1", "job-a1", at + 1000, trigger="promo")
    worker.produce("notifications.decisions", [sent, held])
    worker.produce("notifications.delivery", [delivered])

    def latest() -> dict[str, TriggerMetrics]:
        out: dict[str, TriggerMetrics] = {}
        for m in worker.read("analytics.trigger_metrics", TriggerMetrics):
            if m.trigger_id == "promo":
                out[m.variant] = m
        return out

    worker.wait_for("sent and delivered counted", lambda: (r := latest().get("default")) and r.delivered == 1)
    worker.produce("behavior.events", [
        event("att-1", "notification_opened", at + 60_000, "job-a1"),
        event("att-1", "notification_clicked", at + 61_000, "job-a1"),
        event("att-1", "purchase", at + 120_000, item_id="i9"),
        event("att-2", "purchase", at + 130_000, item_id="i9"),
    ])  # fmt: skip
    treated = worker.wait_for("conversion attributed", lambda: (r := latest().get("default")) and r.converted and r)
    control = worker.wait_for("holdout conversion", lambda: (r := latest().get("holdout")) and r.converted and r)
    assert (treated.fired, treated.sent, treated.delivered, treated.opened, treated.clicked, treated.converted) == (
        1, 1, 1, 1, 1, 1,
    )  # fmt: skip
    assert (control.fired, control.holdout, control.converted) == (1, 1, 1)
    assert treated.window_start_ms == ms("2024-06-02T00:00") and treated.holdout_converted == 1
    keys = {m.key() for m in worker.read("analytics.trigger_metrics")}
    assert f"promo|default|{treated.window_start_ms}".encode() in keys


def test_metrics_count_what_the_worker_did(worker: Worker) -> None:
    body = worker.get("/metrics")[1]
    events = worker.topic("behavior.events")
    assert metric(body, "nudge_stream_events_in_total", topic=events) >= 10
    assert metric(body, "nudge_dead_letters_total", topic=events, reason="bad_framing") == 1
    assert metric(body, "nudge_dead_letters_total", topic=events, reason="empty_value") == 1
    assert metric(body, "nudge_engine_firings_total", trigger="cart_abandoned", kind="absence") == 2
    assert metric(body, "nudge_engine_firings_total", trigger="first_fav", kind="event") == 2
    assert metric(body, "nudge_decisions_total", outcome="deferred", reason="quiet_hours") == 2
    assert metric(body, "nudge_decisions_total", outcome="cancelled", reason="purchase") == 1
    assert metric(body, "nudge_stream_jobs_out_total") == metric(body, "nudge_event_to_job_seconds_count") == 3
    assert metric(body, "nudge_consumer_lag_messages", topic=events, partition="0") == 0
    assert metric(body, "nudge_timer_index_users") >= 0 and "nudge_timer_index_users{" in body
    assert metric(body, "nudge_state_value_bytes_count") >= 1
    assert metric(body, "nudge_attribution_counts_total", name="converted") == 2
    assert metric(body, "nudge_trigger_metrics_out_total") >= 1
    assert "python_gc_objects_collected_total" in body  # the process metrics of the default registry too


def test_deferred_jobs_survive_a_restart_and_ready_waits_for_recovery(worker: Worker) -> None:
    night = ms("2024-06-02T22:40")
    worker.produce(
        "behavior.events", [event("cat", "cart", night, cart_id="c1"), event("zed", "view", night + 35 * MINUTE)]
    )
    worker.wait_for("cat's reminder deferred", lambda: decisions_of(worker, "cat") == [("deferred", "quiet_hours")])
    time.sleep(3)  # let the state reach the changelog (written after each batch, committed by Faust)
    worker.stop()
    # a fresh process with an empty store: it recovers the tables from their changelogs
    worker.start("w2", **ALL_EVENTS)
    readiness = Readiness(worker)
    seen = readiness.wait()
    assert seen[-1] == 200 and 503 in seen, worker.logs()
    worker.produce("behavior.events", [event("zed", "view", ms("2024-06-03T08:05"))])
    worker.wait_for("cat's reminder sent after the restart", lambda: len(decisions_of(worker, "cat")) == 2)
    assert decisions_of(worker, "cat") == [("deferred", "quiet_hours"), ("queued", None)]
    # the new process's metrics cover what it did
    body = worker.get("/metrics")[1]
    assert metric(body, "nudge_stream_events_in_total", topic=worker.topic("behavior.events")) >= 1
    assert metric(body, "nudge_decisions_total", outcome="queued") >= 1
    assert metric(body, "nudge_event_to_job_seconds_count") >= 1
    assert metric(body, "nudge_stream_jobs_out_total") >= 1
    worker.wait_for("a checkpoint since the restart",
                    lambda: metric(worker.get("/metrics")[1], "nudge_checkpoint_seconds_count") >= 1)  # fmt: skip
    for name in ("nudge_consumer_lag_messages", "nudge_timer_index_users", "nudge_state_value_bytes_count",
                 "nudge_engine_late_events_total"):  # fmt: skip
        assert name in body, name


def test_a_bad_decisions_file_refuses_to_start(kafka_bootstrap: str, tmp_path: Path) -> None:
    bad = tmp_path / "decisions.yaml"
    bad.write_text("budget: {max: 0, per: 24h}\n")
    env = {
        **os.environ,
        "NUDGE_APP_ID": f"bad{uuid.uuid4().hex[:8]}",
        "NUDGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "NUDGE_DECISIONS_FILE": str(bad),
        "NUDGE_DATA_DIR": str(tmp_path / "data"),
        "NUDGE_WEB_PORT": str(free_port()),
    }
    done = subprocess.run([str(NUDGE), "worker", "-l", "warn"], env=env, cwd=ROOT, capture_output=True, timeout=60)
    assert done.returncode != 0
    assert f"{bad}: budget.max: expected a positive integer, got 0" in done.stdout.decode() + done.stderr.decode()
