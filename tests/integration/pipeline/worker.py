"""A real `nudge worker` process on unique topics, with helpers to produce, read topics and query its web views."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from schemas.codec import decode, encode
from streams.bench.worker_process import ManagedProcess, web_port, worker_process
from tests.support.kafka import consume_all, create_topics, delete_topics

ROOT = Path(__file__).resolve().parents[3]
NUDGE = Path(sys.executable).parent / "nudge"
TOPICS = [
    "behavior.events",
    "behavior.events.dlq",
    "user.profiles",
    "catalog.updates",
    "notifications.jobs",
    "notifications.decisions",
    "notifications.delivery",
    "analytics.trigger_metrics",
]

# One event trigger and its copy: the smallest catalogue that fires (first fav of a user), for wiring tests.
FIRST_FAV = "triggers:\n  - {id: first_fav, kind: event, on: fav, occurrence: first}\n"


def first_fav_decisions(holdout_pct: int) -> str:
    """A decisions file for FIRST_FAV: no quiet hours in the way, a roomy budget, `holdout_pct` held out."""
    return f"""
default_holdout_pct: {holdout_pct}
budget: {{max: 10, per: 24h, min_gap: 0}}
templates:
  first_fav: {{default: {{en: {{title: "Nice pick", body: "Item {{{{ event.item_id }}}}"}}}}}}
"""


class Worker:
    """Topics under a unique prefix and `nudge worker` processes reading them (one at a time)."""

    def __init__(self, bootstrap: str, admin: Any, tmp: Path, triggers: str, decisions: str, partitions: int) -> None:
        self.bootstrap = bootstrap
        self.admin = admin
        self.app_id = f"p{uuid.uuid4().hex[:12]}"
        self.prefix = f"{self.app_id}."
        self.tmp = tmp
        self.partitions = partitions
        create_topics(admin, [self.prefix + n for n in TOPICS], partitions)
        # the worker creates its internal topics itself; they are listed here to be deleted afterwards
        internal = [f"{self.app_id}.engine.catalog-fanout", f"{self.app_id}.engine.ticks"]
        self.topics = [self.prefix + n for n in [*TOPICS, *internal]]
        (tmp / "triggers.yaml").write_text(triggers)
        (tmp / "decisions.yaml").write_text(decisions)
        self.process: ManagedProcess | None = None
        self.port = 0
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})

    def topic(self, name: str) -> str:
        return self.prefix + name

    def start(self, name: str, *args: str, log_level: str = "warn", **env: str) -> None:
        self.log = self.tmp / f"{name}.log"
        self.process = worker_process(
            name, bootstrap=self.bootstrap, prefix=self.prefix, app_id=self.app_id, partitions=self.partitions,
            data_dir=self.tmp / name, log=self.log, triggers=self.tmp / "triggers.yaml",
            decisions=self.tmp / "decisions.yaml", log_level=log_level, args=args,
            env={"NUDGE_ALLOWED_LATENESS_MS": "0", **env},
        )  # fmt: skip
        self.port = web_port(self.process)
        self.process.start()

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return None if self.process is None else self.process.popen

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def close(self) -> None:
        self.stop()
        # also what the worker created for itself: attribution topics and table changelogs (named after the app id)
        own = [t for t in self.admin.list_topics(timeout=10).topics if t.startswith(self.app_id)]
        delete_topics(self.admin, sorted({*self.topics, *own}))

    def logs(self) -> str:
        return "".join(f.read_text()[-4000:] for f in self.tmp.glob("*.log"))

    def get(self, path: str) -> tuple[int, str]:
        """(status, body) of a GET on the worker's web server; status 0 while it does not answer."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    def produce(self, name: str, records: list[Any], raw: list[bytes] = (), partition: int | None = None) -> None:
        topic = self.topic(name)
        extra = {} if partition is None else {"partition": partition}
        for record in records:
            self.producer.produce(topic, encode(record), key=record.user_id.encode(), **extra)
        for value in raw:
            self.producer.produce(topic, value, key=b"garbage", **extra)
        assert self.producer.flush(30) == 0

    def read(self, name: str, cls: type | None = None) -> list[Any]:
        """Every record of a topic so far (decoded), from the beginning."""
        messages = consume_all(self.bootstrap, self.topic(name), 10**9, timeout=2.0)
        return [decode(m.value(), cls) if cls else m for m in messages]

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Poll `check` until it returns something truthy; fail with the worker's log otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"the worker exited with {self.proc.returncode}:\n{self.logs()}")
            result = check()
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"timed out waiting for {what}:\n{self.logs()}")


def metric(body: str, metric_name: str, **labels: str) -> float:
    """Sum of a metric's samples in a Prometheus text body whose labels include `labels`."""
    total = 0.0
    for line in body.splitlines():
        if not line.startswith(metric_name + "{") and not line.startswith(metric_name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total
