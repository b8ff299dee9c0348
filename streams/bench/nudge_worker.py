"""Nudge's stream worker under the bench: the real `nudge worker` process in replay mode, and its recovery."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from pathlib import Path
from typing import NamedTuple

from streams.bench.worker_process import ROOT, web_port, worker_process

TRIGGERS = ROOT / "streams" / "triggers.yaml"
# Every topic the worker reads or writes, so they exist with the bench's partition count.
WORKER_TOPICS = (
    "behavior.events", "user.profiles", "catalog.updates", "notifications.jobs", "notifications.decisions",
    "notifications.delivery", "analytics.trigger_metrics", "behavior.events.dlq", "user.profiles.dlq",
    "catalog.updates.dlq", "notifications.delivery.dlq",
)  # fmt: skip
APP_TOPICS = ("engine.catalog-fanout", "engine.ticks", "attribution.by-user", "attribution.counts")


APPS: list[str] = []  # app ids started, so the bench can delete their internal topics


def topics_for(prefix: str, app_id: str) -> list[str]:
    """The worker's topics under `prefix` for one app id."""
    return [prefix + t for t in WORKER_TOPICS] + [f"{prefix}{app_id}.{t}" for t in APP_TOPICS]


class Worker:
    """One `nudge worker` process (worker_process.py) with a progress file; stopped with SIGTERM."""

    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        app_id: str,
        partitions: int,
        log_level: str = "info",
        replay: bool = True,
        extra_env: dict[str, str] | None = None,
        loop: str = "aio",
    ) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bench-nudge-"))
        self.progress = self.dir / "progress.json"
        self.log_path = self.dir / "worker.log"
        self.process = worker_process(
            "worker", bootstrap=bootstrap, prefix=prefix, app_id=app_id, partitions=partitions,
            data_dir=self.dir / "data", log=self.log_path, triggers=TRIGGERS, replay=replay, log_level=log_level,
            loop=loop, env={"NUDGE_PROGRESS_FILE": str(self.progress), **(extra_env or {})},
        )  # fmt: skip
        self.port = web_port(self.process)
        self.started = time.time()
        self.process.start()
        assert self.process.popen is not None
        self.proc = self.process.popen

    def read(self) -> dict[str, float]:
        with contextlib.suppress(OSError, ValueError):
            return json.loads(self.progress.read_text())
        return {"count": 0}

    def wait_for(self, count: int, timeout_s: float) -> dict[str, float]:
        """Block until the worker processed `count` records; return its progress figures."""
        deadline = time.monotonic() + timeout_s
        while True:
            seen = self.read()
            if seen.get("count", 0) >= count:
                return seen
            if self.proc.poll() is not None:
                raise RuntimeError(f"nudge worker exited early; log: {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"nudge worker saw {seen.get('count')}/{count} in {timeout_s}s: {self.log_path}")
            time.sleep(0.1)

    def stop(self, timeout_s: float = 30) -> None:
        self.process.stop(timeout_s)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process, all its threads (/proc/<pid>/stat). The delivery bench has its
    twin: streams does not import connectors."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class WorkerRun(NamedTuple):
    rate: float  # events/s, first to last processed batch
    app_id: str
    cpu_s: float  # the process's CPU until the last event was processed, start-up included


def worker_rate(bootstrap: str, prefix: str, count: int, partitions: int,
                timeout_s: float = 300, extra_env: dict[str, str] | None = None) -> WorkerRun:  # fmt: skip
    """Events/s of one worker over `count` events (first to last processed batch), its app id and CPU."""
    app_id = f"bench-nudge-{uuid.uuid4().hex[:8]}"
    APPS.append(app_id)
    _create(bootstrap, [f"{prefix}{app_id}.{t}" for t in APP_TOPICS], partitions)
    worker = Worker(bootstrap, prefix, app_id, partitions, extra_env=extra_env)
    try:
        seen = worker.wait_for(count, timeout_s)
        cpu_s = cpu_seconds(worker.proc.pid)
    finally:
        worker.stop()
    # The first batch's own time is not in the span: count it out.
    span = max(seen["last_ts"] - seen["first_ts"], 1e-6)
    return WorkerRun((seen["count"] - seen.get("first_n", 0)) / span, app_id, cpu_s)


def _create(bootstrap: str, names: list[str], partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics([NewTopic(n, partitions, 1) for n in names]).values():
        with contextlib.suppress(Exception):  # already there
            fut.result(timeout=30)
