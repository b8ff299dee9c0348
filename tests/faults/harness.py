"""One end-to-end run (fcm-local -> deliver -> worker processes) on a seeded input, observed from outside."""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
from confluent_kafka import Consumer, Producer, TopicPartition

from connectors.fcm_local.tls import client_context
from schemas.codec import decode, encode
from schemas.records import BehaviorEvent, DeliveryResult, DeviceToken, NotificationDecision
from streams.bench.worker_process import ManagedProcess as Proc
from streams.bench.worker_process import worker_process
from tests.support.kafka import create_topics
from tests.support.net import free_port
from tests.support.partitions import partition_of
from tests.support.policies import write_without_quiet_hours
from tests.support.records import event

NUDGE = str(Path(sys.executable).with_name("nudge"))
PARTITIONS = 2
PROJECT = "nudge-faults"
TRIGGERS = """
triggers:
  - {id: cart_abandoned, kind: absence, on: cart, stop: purchase, key: user, within: 30m,
     message: {title: "Still thinking?", body: "Your cart is waiting"}, data: {discount_code: COMEBACK10}}
"""
ENGINE_TOPICS = [
    "behavior.events",
    "user.profiles",
    "catalog.updates",
    "notifications.jobs",
    "notifications.decisions",
    "behavior.events.dlq",
    "analytics.trigger_metrics",
]
DELIVERY_TOPICS = ["notifications.jobs.retry", "notifications.jobs.dlq", "notifications.delivery", "device.tokens"]


def seeded_events(seed: int, users: int, now_ms: int) -> list[BehaviorEvent]:
    """Short sessions of views, carts and sometimes a purchase over the last 50 minutes, in event-time order.

    Recent on purpose: a job's retry window counts from its creation (event) time, so jobs from old
    history would be dead-lettered instead of retried, and the FCM fault would measure that instead.
    """
    rng = random.Random(seed)
    start = now_ms - 50 * 60_000
    events = []
    for u in range(users):
        user = f"user{u:04d}"
        t = start + rng.randrange(0, 38 * 60_000)  # users starting in the first ~19 minutes can abandon a cart
        for n in range(rng.randrange(3, 12)):
            t += rng.randrange(5_000, 60_000)
            kind = rng.choices(["view", "cart", "purchase", "fav"], [6, 3, 1, 1])[0]
            item, category = f"item{rng.randrange(50)}", f"c{rng.randrange(5)}"
            events.append(event(user, kind, t, event_id=f"{user}-{n}", item_id=item, category=category))
    return sorted(events, key=lambda e: (e.event_time_ms, e.event_id))


class Reader:
    """Everything on a topic so far, read incrementally from the beginning."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": f"faults-{time.monotonic_ns()}", "enable.auto.commit": False}
        )
        self.consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
        self.values: list[bytes] = []

    def read(self, seconds: float = 0.5) -> list[bytes]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(1000, 0.1):
                if not msg.error():
                    self.values.append(msg.value())
        return self.values

    def close(self) -> None:
        self.consumer.close()


@dataclass
class RunResult:
    """What a run produced, seen from outside: decisions on the topic and messages FCM accepted."""

    decisions: set[tuple[str, str, str]]  # (decision_id, job_id, outcome)
    sends: Counter  # (job_id, token) -> times accepted by the FCM endpoint
    seconds: float
    restarts: int


class Run:
    """Topics under a unique prefix, the processes reading them, a feeder of the seeded input."""

    def __init__(self, stack, name: str, tmp: Path, events: list[BehaviorEvent], feed_seconds: float = 12.0,
                 worker_env: dict[str, str] | None = None) -> None:  # fmt: skip
        self.stack = stack
        self.worker_env = worker_env or {}  # settings every stream worker of the run gets
        self.name = name
        self.tmp = tmp
        self.events = events
        self.feed_seconds = feed_seconds
        self.prefix = f"{name}."
        self.redis_prefix = f"faults:{name}:"
        self.users = sorted({e.user_id for e in events})
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "triggers.yaml").write_text(TRIGGERS)
        # The shipped policies, without quiet hours: the suite must send the same at any hour of the day.
        write_without_quiet_hours(tmp / "decisions.yaml")
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": stack.bootstrap})
        create_topics(admin, [self.prefix + t for t in ENGINE_TOPICS + DELIVERY_TOPICS], PARTITIONS)
        self.workers: list[Proc] = []
        self.fcm_port = free_port()
        self.credentials = tmp / "sa.json"
        self.ca_file = tmp / "fcm-ca.pem"  # HTTPS with HTTP/2, as Google: the endpoint's CA, trusted explicitly
        self.fcm = Proc(
            "fcm",
            [NUDGE, "fcm-local", "--port", str(self.fcm_port), "--project", PROJECT],
            self._env(),
            tmp / "fcm.log",
        )
        self.fcm.args += ["--write-credentials", str(self.credentials), "--write-ca", str(self.ca_file)]
        self.deliverers: list[Proc] = []
        self.started = time.monotonic()
        self._feeder: threading.Thread | None = None

    def _env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "NUDGE_KAFKA_BOOTSTRAP": self.stack.bootstrap,
            "NUDGE_REDIS_URL": self.stack.redis_url,
            "NUDGE_TOPIC_PREFIX": self.prefix,
            "NUDGE_TOPIC_PARTITIONS": str(PARTITIONS),
            **extra,
        }

    # -- processes -----------------------------------------------------------------------------

    def start_fcm(self) -> None:
        self.fcm.start()
        deadline = time.monotonic() + 30
        while not self.credentials.exists() or not self._fcm_get("/health"):
            if time.monotonic() > deadline or not self.fcm.alive():
                raise AssertionError(f"fcm-local did not start: {self.fcm.log.read_text()[-2000:]}")
            time.sleep(0.2)

    @property
    def fcm_url(self) -> str:
        return f"https://127.0.0.1:{self.fcm_port}"

    def _fcm_get(self, path: str) -> dict | None:
        if not self.ca_file.exists():
            return None
        try:
            with urllib.request.urlopen(f"{self.fcm_url}{path}", timeout=5, context=client_context(self.ca_file)) as r:
                return json.loads(r.read())
        except OSError:
            return None

    def fcm_stats(self) -> dict:
        return self._fcm_get("/control/stats") or {}

    def fcm_fail(self, **rule: object) -> None:
        """Inject a rule through the endpoint's control API (error, delay_ms, retry_after_s, connection, ...)."""
        req = urllib.request.Request(
            f"{self.fcm_url}/control/fail",
            data=json.dumps(rule).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=5, context=client_context(self.ca_file)) as resp:
            assert resp.status == 200

    def add_deliverer(self, **extra: str) -> Proc:
        env = self._env(
            NUDGE_FCM_ENDPOINT=self.fcm_url,
            NUDGE_FCM_CA_FILE=str(self.ca_file),
            NUDGE_FCM_CREDENTIALS_FILE=str(self.credentials),
            NUDGE_FCM_PROJECT_ID=PROJECT,
            NUDGE_DELIVERY_REDIS_PREFIX=self.redis_prefix,
            NUDGE_DELIVERY_BACKOFF_BASE_MS="200",
            NUDGE_DELIVERY_BACKOFF_MAX_MS="3000",
            # 40 injected failures over 74 sends: while jobs still trickle in, a few jobs take most of them
            # (4 attempts seen on an idle machine); the product's default, said here so the margin is visible
            NUDGE_DELIVERY_MAX_ATTEMPTS="10",
            NUDGE_DELIVERY_BURST="20",
            **extra,
        )
        args = [NUDGE, "deliver", "--group-id", f"{self.name}-delivery", "--metrics-port", "0"]
        proc = Proc(f"deliver{len(self.deliverers)}", args, env, self.tmp / f"deliver{len(self.deliverers)}.log")
        self.deliverers.append(proc.start())
        return proc

    def add_worker(self) -> Proc:
        n = len(self.workers)
        proc = worker_process(
            f"worker{n}", bootstrap=self.stack.bootstrap, prefix=self.prefix, app_id=self.name,
            partitions=PARTITIONS, data_dir=self.tmp / f"worker{n}", log=self.tmp / f"worker{n}.log",
            triggers=self.tmp / "triggers.yaml", decisions=self.tmp / "decisions.yaml",
            identity=f"{self.name}-worker{n}",  # a restart rejoins without a rebalance, as a pod does
            env={"NUDGE_REDIS_URL": self.stack.redis_url, "NUDGE_ALLOWED_LATENESS_MS": "60000", **self.worker_env},
        )  # fmt: skip
        self.workers.append(proc.start())
        return proc

    def processes(self) -> list[Proc]:
        return [self.fcm, *self.deliverers, *self.workers]

    def supervise(self) -> None:
        for proc in self.processes():
            if proc.popen is not None:
                proc.supervise()

    # -- input ---------------------------------------------------------------------------------

    def publish_tokens(self) -> None:
        """Two devices per user through device.tokens; wait until the delivery worker stored them all."""
        producer = Producer({"bootstrap.servers": self.stack.bootstrap})
        now = int(time.time() * 1000)
        for user in self.users:
            for suffix, platform in (("a", "android"), ("w", "web")):
                token = DeviceToken(user_id=user, token=f"tok-{user}-{suffix}", platform=platform, updated_at_ms=now)
                producer.produce(self.prefix + "device.tokens", encode(token), key=user.encode())
        assert producer.flush(30) == 0
        client = redis.Redis.from_url(self.stack.redis_url)
        deadline = time.monotonic() + 60
        try:
            while sum(1 for _ in client.scan_iter(f"{self.redis_prefix}tokens:*", count=1000)) < len(self.users):
                self.supervise()
                if time.monotonic() > deadline:
                    raise AssertionError("device tokens were not stored within 60 s")
                time.sleep(0.3)
        finally:
            client.close()

    def feed(self) -> None:
        """Publish the events evenly over `feed_seconds` on a thread, keyed and partitioned by user."""

        def run() -> None:
            producer = Producer({"bootstrap.servers": self.stack.bootstrap, "linger.ms": 20})
            topic = self.prefix + "behavior.events"
            pause = self.feed_seconds / max(len(self.events), 1)
            for i, record in enumerate(self.events):
                user = record.user_id
                producer.produce(topic, encode(record), key=user.encode(), partition=partition_of(user, PARTITIONS))
                producer.poll(0)
                if i % 50 == 0:
                    time.sleep(pause * 50)
            assert producer.flush(120) == 0

        self._feeder = threading.Thread(target=run, name="feeder", daemon=True)
        self._feeder.start()

    # -- observation ---------------------------------------------------------------------------

    def observe(self, decisions: Reader) -> tuple[set[tuple[str, str, str]], Counter]:
        decided = set()
        for value in decisions.read():
            d = decode(value, NotificationDecision)
            decided.add((d.decision_id, d.job_id, d.outcome))
        accepted = (self._fcm_get("/control/messages") or {"messages": []})["messages"]
        sends = Counter((m["message"]["data"]["nudge_job_id"], m["message"]["token"]) for m in accepted)
        return decided, sends

    def wait(
        self, done: Callable[[set, Counter], bool], timeout: float, settle: float = 4.0, on_tick: Callable | None = None
    ) -> RunResult:
        """Poll until `done(decisions, sends)` holds and nothing changes for `settle` s (or `timeout`)."""
        decisions = Reader(self.stack.bootstrap, self.prefix + "notifications.decisions")
        deadline = time.monotonic() + timeout
        last, stable_since = None, time.monotonic()
        try:
            while time.monotonic() < deadline:
                self.supervise()
                if on_tick is not None:
                    on_tick()
                decided, sends = self.observe(decisions)
                snapshot = (len(decided), sum(sends.values()))
                if snapshot != last:
                    last, stable_since = snapshot, time.monotonic()
                feeding = self._feeder is not None and self._feeder.is_alive()
                if not feeding and done(decided, sends) and time.monotonic() - stable_since >= settle:
                    break
                time.sleep(0.5)
            decided, sends = self.observe(decisions)
        finally:
            decisions.close()
        restarts = sum(p.restarts for p in self.processes())
        return RunResult(decided, sends, time.monotonic() - self.started, restarts)

    def close(self) -> dict[str, int | None]:
        """SIGTERM every process (workers first); the exit codes by name."""
        codes = {}
        for proc in [*self.workers, *self.deliverers, self.fcm]:
            codes[proc.name] = proc.stop()
        return codes

    def delivery_summary(self) -> str:
        """What delivery reported: results per status, the most attempts a job took, every job that ended
        without a send (dead-lettered or failed) with its error: where a lost send went."""
        reader = Reader(self.stack.bootstrap, self.prefix + "notifications.delivery")
        try:
            results = [decode(v, DeliveryResult) for v in reader.read(2.0)]
        finally:
            reader.close()
        statuses = Counter(r.status for r in results)
        attempts = Counter(r.attempt for r in results if r.status in ("sent", "retry_scheduled", "dead_lettered"))
        ended = sorted({(r.job_id, r.status, r.attempt, r.error_code or "") for r in results
                        if r.status in ("dead_lettered", "failed")})  # fmt: skip
        return (f"delivery results {dict(statuses)}; attempts {dict(sorted(attempts.items()))}; "
                f"ended unsent {ended[:10]}")  # fmt: skip

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.log_tail(1500)}" for p in self.processes())
