"""Attribution across a restart mid-stream: every count arrives exactly once (killed, or stopped)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas.records import BehaviorEvent, DeliveryResult, NotificationDecision, TriggerMetrics
from tests.integration.pipeline.worker import FIRST_FAV, Worker, first_fav_decisions
from tests.support.net import free_port
from tests.support.records import decision, delivery, event
from tests.unit.decisions.support import ms

TREATED, CONTROL, BYSTANDERS = 300, 60, 1_500
AT = ms("2024-06-02T12:00")
FUNNEL = ("fired", "holdout", "sent", "delivered", "opened", "clicked", "converted", "retained", "holdout_converted")


@pytest.fixture
def worker(kafka_bootstrap: str, kafka_admin: Any, tmp_path: Path) -> Iterator[Worker]:
    run = Worker(kafka_bootstrap, kafka_admin, tmp_path, FIRST_FAV, first_fav_decisions(0), partitions=3)
    yield run
    run.close()


def touches() -> tuple[list[NotificationDecision], list[DeliveryResult]]:
    decisions, deliveries = [], []
    for i in range(TREATED + CONTROL):
        user, job = f"att-{i}", f"job-{i}"
        held = i >= TREATED
        decisions.append(decision(user, job, "holdout" if held else "queued", AT, "promo", "a"))
        if not held:
            deliveries.append(delivery(user, job, AT + 1_000, trigger="promo", variant="a"))
    return decisions, deliveries


def feedback() -> list[BehaviorEvent]:
    """Opens and clicks, a view and a purchase per touched user, among many views of users never touched."""
    out = []
    for i in range(TREATED + CONTROL):
        user, job, t = f"att-{i}", f"job-{i}", AT + 60_000
        if i < TREATED:
            out += [event(user, "notification_opened", t, job), event(user, "notification_clicked", t + 1_000, job)]
        out += [event(user, "view", t + 2_000, item_id="i1"), event(user, "purchase", t + 3_000, item_id="i1")]
        for j in range(BYSTANDERS // (TREATED + CONTROL)):
            out.append(event(f"by-{i}-{j}", "view", t + 2_000 + j, item_id="i2"))
    return out


def funnel(worker: Worker) -> dict[str, tuple[int, ...]]:
    """Latest TriggerMetrics per variant of the one window, as a tuple of the FUNNEL counts."""
    latest: dict[str, TriggerMetrics] = {}
    for m in worker.read("analytics.trigger_metrics", TriggerMetrics):
        assert m.trigger_id == "promo" and m.window_start_ms == ms("2024-06-02T00:00")
        latest[m.variant] = m
    return {v: tuple(getattr(m, name) for name in FUNNEL) for v, m in latest.items()}


def processed(path: Path) -> int:
    try:
        return int(json.loads(path.read_text())["count"])
    except (OSError, ValueError, KeyError):
        return 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_a_restart_mid_stream_neither_loses_nor_double_counts(
    worker: Worker, tmp_path: Path, sig: signal.Signals
) -> None:
    progress = tmp_path / "progress.json"
    # One stable group identity and address for both runs, as a pod restarted in place has: no wait for the old
    # session to expire. The broker hands the rejoining member its previous assignment, whose Faust metadata
    # carries the previous web URL; Faust's assignor asserts it is its own, so the port must not change either.
    env = {
        "NUDGE_PROGRESS_FILE": str(progress),
        "NUDGE_GROUP_INSTANCE_ID": "worker-0",
        "NUDGE_WEB_PORT": str(free_port()),
        "NUDGE_ATTRIBUTION_EVENTS": "all",  # the decisions are published by the test, not made by this worker
    }
    decisions, deliveries = touches()
    worker.produce("notifications.decisions", decisions)
    worker.start("w1", **env)
    # a delivery read before its decision makes the touch without a "fired": decisions first
    queued = (TREATED, 0, TREATED, 0, 0, 0, 0, 0, 0)
    worker.wait_for("decisions counted", lambda: funnel(worker).get("a") == queued, timeout=120)
    worker.produce("notifications.delivery", deliveries)
    sent = (TREATED, 0, TREATED, TREATED, 0, 0, 0, 0, 0)
    worker.wait_for("deliveries counted", lambda: funnel(worker).get("a") == sent, timeout=120)
    events = feedback()
    # The rest of the stream is published only once the worker has stopped: a worker fast enough to handle every
    # event before the signal lands would otherwise make the restart come after the stream, not in it.
    half = len(events) // 2
    worker.produce("behavior.events", events[:half])
    deadline = time.monotonic() + 60
    while processed(progress) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert worker.proc is not None
    worker.proc.send_signal(sig)  # mid-stream: some events attributed, some not, offsets partly committed
    worker.proc.wait(timeout=60)
    worker.produce("behavior.events", events[half:])
    assert 0 < processed(progress) < len(events), "the restart was not mid-stream"
    worker.start("w2", **env)
    expected = {
        "a": (TREATED, 0, TREATED, TREATED, TREATED, TREATED, TREATED, TREATED, CONTROL),
        "holdout": (CONTROL, CONTROL, 0, 0, 0, 0, CONTROL, CONTROL, CONTROL),
    }

    def settled() -> bool:
        seen = funnel(worker)
        for variant, counts in seen.items():  # a count past the expected one was added twice: fail now
            assert all(s <= e for s, e in zip(counts, expected[variant], strict=True)), (variant, counts)
        return seen == expected

    worker.wait_for("every count after the restart", settled, timeout=180)
    time.sleep(4)  # longer than a commit interval: nothing redone later adds to a count
    assert funnel(worker) == expected
