"""Event -> job latency of a live worker at fixed input rates, and its state recovery rate from the changelog."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

from confluent_kafka import Consumer, Producer

from streams.bench import nudge_worker, worker_log, workload
from streams.bench.nudge_worker import Worker, topics_for
from streams.bench.nudge_worker import _create as create_topics
from streams.bench.policies import write_without_quiet_hours

# Signups of new users are the probes: the example catalogue's `welcome` trigger turns each into a job at once.
PROBE_EVERY = 10


def _jobs_consumer(bootstrap: str, topic: str) -> Consumer:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-latency-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "latest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    return consumer


class JobWatcher(threading.Thread):
    """Records when each job's user first shows up on the jobs topic."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.consumer = _jobs_consumer(bootstrap, topic)
        self.seen: dict[bytes, float] = {}
        self.running = True
        self.assigned = threading.Event()

    def run(self) -> None:
        while self.running:
            # poll returns with the first job; consume(timeout=0) then takes what is already fetched. (A
            # consume with a timeout waits for its whole batch, which stamped jobs up to the timeout late.)
            first = self.consumer.poll(0.05)
            if first is not None:
                now = time.time()
                for msg in [first, *self.consumer.consume(num_messages=1000, timeout=0)]:
                    if msg.error() is None and msg.key() not in self.seen:
                        self.seen[msg.key()] = now
            if self.consumer.assignment():
                self.assigned.set()
        self.consumer.close()


def _publish_at(producer: Producer, prefix: str, rate: int, seconds: float, tag: str) -> dict[bytes, float]:
    """Publish the workload mix live at `rate` events/s (event time = send time), a signup probe every
    PROBE_EVERY events, each right after its user's profile (as an app sends them: welcome waits for the name
    otherwise); return each probe's send time."""
    from schemas.codec import encode
    from schemas.records import UserProfile

    topic, profiles = prefix + "behavior.events", prefix + "user.profiles"

    count = int(rate * seconds) + 1
    lead_s = 0.2 + count * 30e-6  # encoding ahead of time, so the schedule is not held up by it
    start_ms = int((time.time() + lead_s) * 1000)
    planned = []
    for i, event in enumerate(workload.records(count, 5_000, seed=sum(tag.encode()))):
        at_ms = start_ms + int(i * 1000 / rate)
        if i % PROBE_EVERY == 0:
            event = replace(event, user_id=f"probe-{tag}-{i}", type="signup", cart_id=None)
        event = replace(event, event_id=f"{tag}-{i}", event_time_ms=at_ms)
        planned.append((at_ms / 1000, event.user_id.encode(), encode(event), i % PROBE_EVERY == 0))
    sent: dict[bytes, float] = {}
    for at, key, value, is_probe in planned:
        delay = at - time.time()
        if delay > 0:
            time.sleep(delay)
        if is_probe:
            profile = UserProfile(user_id=key.decode(), first_name="Ada", updated_at_ms=int(at * 1000))
            producer.produce(profiles, encode(profile), key=key)
        producer.produce(topic, value, key=key)
        if is_probe:
            sent[key] = time.time()
        producer.poll(0)
    producer.flush(30)
    return sent


def latency_at_rates(bootstrap: str, partitions: int, rates: list[int], seconds: float,
                     extra_env: dict[str, str] | None = None) -> dict[int, dict[str, float]]:  # fmt: skip
    """p50/p99 event -> job latency (ms) of one worker (settings `extra_env`) at each input rate, on fresh topics."""
    run = uuid.uuid4().hex[:8]
    prefix, app_id = f"bench.{run}.", f"bench-latency-{run}"
    nudge_worker.APPS.append(app_id)
    nudge_worker.APPS.append(prefix)
    create_topics(bootstrap, topics_for(prefix, app_id), partitions)
    watcher = JobWatcher(bootstrap, prefix + "notifications.jobs")
    watcher.start()
    # Live mode runs on the wall clock: without quiet hours, so probes are answered at any hour of the day.
    policies = write_without_quiet_hours(Path(tempfile.mkdtemp(prefix="bench-latency-")) / "decisions.yaml")
    worker = Worker(
        bootstrap, prefix, app_id, partitions, replay=False,
        extra_env={"NUDGE_DECISIONS_FILE": str(policies), **(extra_env or {})},
    )  # fmt: skip
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
    out: dict[int, dict[str, float]] = {}
    try:
        watcher.assigned.wait(30)
        # Warm up until the worker answers probes: it has joined the group and recovered.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            probes = _publish_at(producer, prefix, 100, 0.5, f"warm{int(time.monotonic())}")
            time.sleep(0.5)
            if any(k in watcher.seen for k in probes):
                break
        else:
            raise RuntimeError(f"the latency worker never produced a job; log: {worker.log_path}")
        for rate in rates:
            probes = _publish_at(producer, prefix, rate, seconds, f"r{rate}")
            time.sleep(2.0)  # let the tail arrive
            lat = sorted((watcher.seen[k] - t) * 1000 for k, t in probes.items() if k in watcher.seen)
            if not lat:
                raise RuntimeError(f"no job came back at {rate}/s; log: {worker.log_path}")
            out[rate] = {
                "p50_ms": statistics.median(lat),
                "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
                "answered": len(lat) / len(probes),
            }
    finally:
        worker.stop()
        watcher.running = False
        watcher.join(5)
    return out


def recovery_rate(bootstrap: str, prefix: str, app_id: str, partitions: int, timeout_s: float = 180) -> float:
    """Records/s a fresh worker restores from the prefilled changelog of `app_id` (from Faust's own log lines)."""
    from confluent_kafka import TopicPartition

    changelog = f"{app_id}-engine-state-changelog"
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-recovery-{uuid.uuid4().hex[:8]}"})
    records = 0
    for p in range(partitions):
        low, high = probe.get_watermark_offsets(TopicPartition(changelog, p), timeout=10)
        records += high - low
    probe.close()
    worker = Worker(bootstrap, prefix, app_id, partitions, log_level="info")
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            seconds = worker_log.recovery_seconds(worker.log_path.read_text(errors="replace"))
            if seconds is not None:
                return records / max(seconds, 1e-3)
            if worker.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"recovery of {records} records did not finish; log: {worker.log_path}")
    finally:
        worker.stop()


TIMER_TRIGGERS = """
triggers:
  - {id: cart_abandoned, kind: absence, on: cart, stop: purchase, key: user, within: %ds,
     message: {title: "Still thinking?", body: "Your cart is waiting"}}
"""


def timer_lateness(bootstrap: str, partitions: int, carts: int = 200, within_s: int = 2) -> dict[str, float]:
    """How long after its deadline a live worker's absence timer turns into a job (ms, p50/p99/max).

    Each probe is one new user's cart and nothing after it: its reminder is due `within_s` after the
    cart's event time (= its send time), and only the wall-clock ticks of live mode can fire it. The
    allowed lateness is 0 here: a worker deliberately waits its allowed lateness on top (60 s by default).
    """
    run = uuid.uuid4().hex[:8]
    prefix, app_id = f"bench.{run}.", f"bench-timers-{run}"
    nudge_worker.APPS.extend([app_id, prefix])
    create_topics(bootstrap, topics_for(prefix, app_id), partitions)
    tmp = Path(tempfile.mkdtemp(prefix="bench-timers-"))
    (tmp / "triggers.yaml").write_text(TIMER_TRIGGERS % within_s)
    env = {
        "NUDGE_ALLOWED_LATENESS_MS": "0",
        "NUDGE_TRIGGERS_FILE": str(tmp / "triggers.yaml"),
        "NUDGE_DECISIONS_FILE": str(write_without_quiet_hours(tmp / "decisions.yaml")),
    }
    watcher = JobWatcher(bootstrap, prefix + "notifications.jobs")
    watcher.start()
    worker = Worker(bootstrap, prefix, app_id, partitions, replay=False, extra_env=env)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1})
    topic = prefix + "behavior.events"
    try:
        watcher.assigned.wait(30)
        deadline = time.monotonic() + 120
        while (
            not watcher.seen.keys() & _carts(producer, topic, "warm", 5, 0.0, within_s, watcher, within_s + 3.0).keys()
        ):
            if time.monotonic() > deadline or worker.proc.poll() is not None:
                raise RuntimeError(f"the timer worker never produced a job; log: {worker.log_path}")
        due = _carts(producer, topic, "probe", carts, 5.0, within_s, watcher, within_s + 5.0)
    finally:
        worker.stop()
        watcher.running = False
        watcher.join(5)
    late = sorted((watcher.seen[k] - at) * 1000 for k, at in due.items() if k in watcher.seen)
    if not late:
        raise RuntimeError(f"no reminder came back; log: {worker.log_path}")
    return {
        "p50_ms": statistics.median(late),
        "p99_ms": late[min(len(late) - 1, int(len(late) * 0.99))],
        "max_ms": late[-1],
        "answered": len(late) / len(due),
    }


def _carts(
    producer: Producer,
    topic: str,
    tag: str,
    count: int,
    spread_s: float,
    within_s: int,
    watcher: JobWatcher,
    wait_s: float,
) -> dict[bytes, float]:
    """Publish `count` carts of new users over `spread_s`, wait `wait_s`; each user's reminder due time (s)."""
    from schemas.codec import encode
    from schemas.records import BehaviorEvent

    due: dict[bytes, float] = {}
    for _ in range(count):
        user = f"{tag}-{uuid.uuid4().hex[:10]}"
        at_ms = int(time.time() * 1000)
        event = BehaviorEvent(event_id=f"{user}-cart", user_id=user, type="cart", event_time_ms=at_ms)
        producer.produce(topic, encode(event), key=user.encode())
        producer.poll(0)
        due[user.encode()] = at_ms / 1000 + within_s
        if spread_s:
            time.sleep(spread_s / count)
    producer.flush(30)
    time.sleep(wait_s)
    return due
