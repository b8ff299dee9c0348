"""A replay-mode worker says when it has caught up (log, /ready) and, if asked, exits 0 then."""

from __future__ import annotations

import json

from schemas.records import NotificationDecision
from tests.integration.pipeline.worker import FIRST_FAV, Worker, first_fav_decisions
from tests.support.records import event
from tests.unit.decisions.support import ms

NOON = ms("2024-06-02T12:00")


def ready(worker: Worker) -> dict:
    status, body = worker.get("/ready")
    return json.loads(body) if status in (200, 503) and body else {}


def test_caught_up_shows_on_ready_and_in_the_log_then_the_flag_exits_0(kafka_bootstrap, kafka_admin, tmp_path) -> None:
    worker = Worker(kafka_bootstrap, kafka_admin, tmp_path, FIRST_FAV, first_fav_decisions(0), partitions=2)
    try:
        worker.produce("behavior.events", [event(f"u{i}", "fav", NOON + i, item_id="i1") for i in range(40)])
        worker.start("w1")
        assert worker.wait_for("caught up on /ready", lambda: ready(worker).get("caught_up"), timeout=120)
        assert ready(worker) == {"ready": True, "caught_up": True}
        assert "caught up: all" in worker.logs()
        decided = {d.user_id for d in worker.read("notifications.decisions", NotificationDecision)}
        assert decided == {f"u{i}" for i in range(40)}  # caught up means the input is processed and committed
        worker.stop()

        # A backtest: more history, a worker that resumes from the commits and stops by itself at the end.
        worker.produce("behavior.events", [event(f"v{i}", "fav", NOON + 100 + i, item_id="i2") for i in range(40)])
        worker.start("w2", "--exit-when-caught-up")
        assert worker.proc is not None and worker.proc.wait(180) == 0, worker.logs()
        decided = {d.user_id for d in worker.read("notifications.decisions", NotificationDecision)}
        assert decided >= {f"v{i}" for i in range(40)}
        assert worker.logs().count("caught up: all") == 2
    finally:
        worker.close()
