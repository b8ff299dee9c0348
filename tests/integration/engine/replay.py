"""Replay helpers: the Taobao file as BehaviorEvents, an independent oracle, and `nudge worker` processes."""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Producer

from schemas.codec import decode, encode
from schemas.records import NotificationJob
from streams.bench.worker_process import ManagedProcess, worker_process
from tests.support.kafka import consume_all, create_topics
from tests.support.net import free_port
from tests.support.partitions import partition_of
from tests.support.records import event

TYPES = {"pv": "view", "cart": "cart", "fav": "fav", "buy": "purchase"}
WINDOW_MS = 30 * 60_000
LATENESS_MS = 60_000
PARTITIONS = 2
# Cart abandonment, one window per user: a cart opens (or restarts) a 30-minute window; a purchase
# inside [cart, cart + 30m) cancels it; otherwise it fires at cart + 30m (event time).
TRIGGERS = """
triggers:
  - {id: cart_abandoned, kind: absence, on: cart, stop: purchase, key: user, within: 30m,
     data: {discount_code: COMEBACK10}}
"""
# The decision layer passes every firing straight through (no holdout, quiet hours or caps), so the
# jobs are exactly the firings and the oracle comparison stays exact.
DECISIONS = """
default_holdout_pct: 0
quiet_hours: {enabled: false}
budget: {max: 1000000, per: 24h, min_gap: 0}
templates:
  cart_abandoned: {default: {en: {title: "You left something behind", body: "Use {{ discount_code }}"}}}
"""


@dataclass(frozen=True)
class Row:
    user: str
    item: str
    category: str
    type: str
    ts_ms: int
    line: int


def load_rows(path: Path, limit: int | None = None) -> tuple[list[Row], int]:
    """Valid rows in file order and the number of malformed lines (the file's last line is truncated)."""
    rows, bad = [], 0
    with path.open() as fh:
        for number, line in enumerate(fh, 1):
            parts = line.strip().split(",")
            if len(parts) != 5 or parts[3] not in TYPES or not parts[4].isdigit() or len(parts[4]) != 10:
                bad += 1
                continue
            rows.append(Row(parts[0], parts[1], parts[2], TYPES[parts[3]], int(parts[4]) * 1000, number))
            if limit is not None and len(rows) >= limit:
                break
    return rows, bad


def oracle(rows: list[Row]) -> set[tuple[str, int]]:
    """(user, fire time) of every abandoned cart, computed directly from the rows.

    A cart at t fires at t + 30m unless a later row of the same user, earlier than t + 30m, is a cart
    (which restarts the window) or a purchase (which cancels it); and only once time has passed the
    deadline: the final stream time (max event time - lateness) of the user's partition reached it, or
    a later event of the same user is at or after it.
    """
    final = defaultdict(int)
    by_user: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        part = partition_of(row.user, PARTITIONS)
        final[part] = max(final[part], row.ts_ms - LATENESS_MS)
        by_user[row.user].append(row)
    fired = set()
    for user, events in by_user.items():
        for i, row in enumerate(events):
            if row.type != "cart":
                continue
            deadline = row.ts_ms + WINDOW_MS
            later = events[i + 1 :]
            if any(e.type in ("cart", "purchase") and e.ts_ms < deadline for e in later):
                continue
            if deadline <= final[partition_of(user, PARTITIONS)] or any(e.ts_ms >= deadline for e in later):
                fired.add((user, deadline))
    return fired


class Replay:
    """Topics under a unique prefix, the events produced into them, and workers reading them."""

    def __init__(self, bootstrap: str, admin: object, unique: str, tmp: Path) -> None:
        self.bootstrap = bootstrap
        self.app_id = unique
        self.prefix = f"{unique}."
        self.tmp = tmp
        self.jobs = f"{self.prefix}notifications.jobs"
        names = [
            "behavior.events",
            "user.profiles",
            "catalog.updates",
            f"{unique}.engine.catalog-fanout",
            "notifications.jobs",
            "notifications.decisions",
            "behavior.events.dlq",
        ]
        self.topics = [self.prefix + n for n in names]
        create_topics(admin, self.topics, PARTITIONS)
        (tmp / "triggers.yaml").write_text(TRIGGERS)
        (tmp / "decisions.yaml").write_text(DECISIONS)
        self.workers: list[ManagedProcess] = []
        self.ports: dict[str, int] = {}  # identity -> web port

    def produce(self, rows: list[Row], extra: list[tuple[int, bytes]] = ()) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 20})
        topic = f"{self.prefix}behavior.events"
        for row in rows:
            record = event(row.user, row.type, row.ts_ms, event_id=f"taobao-{row.line}", item_id=row.item,
                           category=row.category)  # fmt: skip
            producer.produce(topic, encode(record), key=row.user.encode(), partition=partition_of(row.user, PARTITIONS))
            producer.poll(0)
        for partition, value in extra:
            producer.produce(topic, value, key=b"bad", partition=partition)
        assert producer.flush(30) == 0

    def start_worker(self, name: str, identity: str | None = None) -> ManagedProcess:
        """Start a worker; one with an `identity` keeps its group instance id and web port across restarts
        (as a pod restarted in place does), so a restart does not wait for the dead member's session."""
        proc = worker_process(
            name, bootstrap=self.bootstrap, prefix=self.prefix, app_id=self.app_id, partitions=PARTITIONS,
            data_dir=self.tmp / name, log=self.tmp / f"{name}.log", triggers=self.tmp / "triggers.yaml",
            decisions=self.tmp / "decisions.yaml", identity=identity,
            web_port=None if identity is None else self.ports.setdefault(identity, free_port()),
            env={"NUDGE_ALLOWED_LATENESS_MS": str(LATENESS_MS),
                 "NUDGE_ATTRIBUTION": "false"},  # engine only: these runs compare firings with the oracle
        )  # fmt: skip
        self.workers.append(proc.start())
        return proc

    def read_jobs(self, expected: int, timeout: float) -> list[NotificationJob]:
        """Read jobs until `expected` distinct ids arrived (or timeout), then a little more for extras."""
        deadline = time.monotonic() + timeout
        messages: list = []
        while time.monotonic() < deadline:
            dead = [p for p in self.workers if p.exited() not in (None, -signal.SIGKILL)]
            if dead:
                logs = "".join(p.log_tail(3000) for p in self.workers)
                raise AssertionError(f"a worker exited with {dead[0].exited()}:\n{logs}")
            messages = consume_all(self.bootstrap, self.jobs, 10**9, timeout=3.0)
            if len({m.value() for m in messages}) >= expected:
                break
        time.sleep(2)
        messages = consume_all(self.bootstrap, self.jobs, 10**9, timeout=3.0)
        return [decode(m.value(), NotificationJob) for m in messages]

    def stop(self) -> None:
        for proc in self.workers:
            proc.terminate()  # all at once: a group that stops together
        for proc in self.workers:
            proc.stop(timeout=20)
