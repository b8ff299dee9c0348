"""Restarts on the RocksDB store: a kept store reads only the changelog tail; /health and /ready keep their promises."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from schemas.records import BehaviorEvent, NotificationJob
from streams.bench import workload
from streams.bench.scale import HealthWatch, publish_probes
from streams.bench.worker_log import changelog_reads
from tests.integration.pipeline.worker import ROOT, Worker

ROCKSDB = {"NUDGE_STORE": "rocksdb://"}
TRIGGERS = """
triggers:
  - {id: first_fav, kind: event, on: fav, occurrence: first}
"""
DECISIONS = """
default_holdout_pct: 0
quiet_hours: {enabled: false}
budget: {max: 100, per: 24h, min_gap: 0}
templates:
  first_fav: {default: {en: {title: "Nice pick", body: "Item {{ event.item_id }}"}}}
"""
AT = workload.BASE_TIME_MS
# Kubernetes' default probe timeout (the chart sets none): a /health slower than this counts as a failed probe.
PROBE_TIMEOUT_S = 1.0
# Enough users that rebuilding a partition's indexes from the whole table takes seconds on today's worker.
MANY_USERS = 120_000
PARTITIONS = 4
EXAMPLE = {  # the shipped triggers and policies: realistic states per user
    "NUDGE_TRIGGERS_FILE": str(ROOT / "streams" / "triggers.yaml"),
    "NUDGE_DECISIONS_FILE": str(ROOT / "streams" / "templates" / "decisions.yaml"),
}


def processed(path: Path) -> int:
    try:
        return int(json.loads(path.read_text())["count"])
    except (OSError, ValueError, KeyError):
        return 0


def last_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    """The last offset of each partition (Faust's 'highwater' in its recovery logs); -1 when empty."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"offsets-{uuid.uuid4().hex[:8]}"})
    try:
        highs = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(partitions)}
        return {p: high - 1 for p, high in highs.items()}
    finally:
        consumer.close()


def run_until(worker: Worker, name: str, count: int, **env: str) -> None:
    """Start a worker on `name`'s data dir, wait until it processed `count` records, let it commit, stop it."""
    progress = worker.tmp / f"{name}-{uuid.uuid4().hex[:6]}.json"
    worker.start(name, log_level="info", NUDGE_PROGRESS_FILE=str(progress), **ROCKSDB, **env)
    worker.wait_for(f"{count} records processed", lambda: processed(progress) >= count, timeout=240)
    time.sleep(3)  # past a commit interval: every changed state is in the store and on the changelog
    worker.stop()


def favs(prefix: str, users: int, at: int) -> list[BehaviorEvent]:
    return [BehaviorEvent(event_id=f"{prefix}{i}-{at}", user_id=f"{prefix}{i}", type="fav", event_time_ms=at + i,
                          item_id=f"i{i}") for i in range(users)]  # fmt: skip


# Exactly-once: every changelog write ends in a commit marker, and the kept store records the offset after it.
@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_a_warm_restart_reads_only_the_changelog_tail(kafka_bootstrap: str, kafka_admin: Any, tmp_path: Path,
                                                      guarantee: str) -> None:  # fmt: skip
    worker = Worker(kafka_bootstrap, kafka_admin, tmp_path, TRIGGERS, DECISIONS, partitions=2)
    changelog = f"{worker.app_id}-engine-state-changelog"
    mode = {"NUDGE_PROCESSING_GUARANTEE": guarantee}
    try:
        worker.produce("behavior.events", favs("a", 200, AT))
        run_until(worker, "kept", 200, **mode)
        kept_up_to = last_offsets(kafka_bootstrap, changelog, 2)
        # Another worker, on its own data dir, takes over and writes the tail while the kept one is away.
        worker.produce("behavior.events", favs("b", 200, AT + 60_000))
        run_until(worker, "other", 200, **mode)
        tail_end = last_offsets(kafka_bootstrap, changelog, 2)
        assert all(tail_end[p] > kept_up_to[p] for p in (0, 1)), (kept_up_to, tail_end)

        log = tmp_path / "kept.log"
        before = log.stat().st_size
        progress = tmp_path / "kept-again.json"
        worker.start("kept", log_level="info", NUDGE_PROGRESS_FILE=str(progress), **ROCKSDB, **mode)
        worker.wait_for("/ready", lambda: worker.get("/ready")[0] == 200, timeout=120)
        reads = changelog_reads(log.read_text(errors="replace")[before:])
        starts = {p: reads[(changelog, p)] for p in (0, 1)}
        # Read from where the kept store ends up to the tail's end, not from the beginning (-1).
        assert starts == {p: (kept_up_to[p], tail_end[p]) for p in (0, 1)}, (starts, worker.logs())

        # The tail was applied: users of both batches already had their first fav, new users get theirs.
        worker.produce("behavior.events", [*favs("a", 200, AT + 120_000), *favs("b", 200, AT + 120_000),
                                           *favs("c", 20, AT + 180_000)])  # fmt: skip
        worker.wait_for("the new events", lambda: processed(progress) >= 420, timeout=120)
        time.sleep(3)
        jobs = worker.read("notifications.jobs", NotificationJob)
        firsts = sorted(j.user_id for j in jobs if j.trigger_id == "first_fav")
        assert len(firsts) == len(set(firsts)) == 420, f"{len(firsts)} first_fav jobs for {len(set(firsts))} users"
    finally:
        worker.close()


@pytest.fixture(scope="module")
def many_users(kafka_bootstrap: str, kafka_admin: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    """A changelog and a kept store of MANY_USERS users (two events each, the full example triggers)."""
    worker = Worker(kafka_bootstrap, kafka_admin, tmp_path_factory.mktemp("many"), "", "", partitions=PARTITIONS)
    try:
        workload.publish(kafka_bootstrap, worker.topic("behavior.events"), 2 * MANY_USERS, MANY_USERS, every_user=True)
        run_until(worker, "kept", 2 * MANY_USERS, **EXAMPLE)
        yield worker
    finally:
        worker.close()


def restart_and_probe(worker: Worker, name: str) -> tuple[float, float]:
    """Restart on `name`'s data dir; once /ready says 200, one event per partition. The longest /health answer
    (s) over the whole restart, and the longest from /ready 200 until every probe was processed."""
    progress = worker.tmp / f"{name}-{uuid.uuid4().hex[:6]}.json"
    worker.start(name, log_level="info", NUDGE_PROGRESS_FILE=str(progress), **ROCKSDB, **EXAMPLE)
    whole = HealthWatch(worker.port)
    whole.start()
    try:
        worker.wait_for("/ready", lambda: worker.get("/ready")[0] == 200, timeout=240)
        after_ready = HealthWatch(worker.port)
        after_ready.start()
        publish_probes(worker.bootstrap, worker.topic("behavior.events"), PARTITIONS, MANY_USERS, 1)
        worker.wait_for("a probe per partition", lambda: processed(progress) >= PARTITIONS, timeout=240)
        time.sleep(1)  # one more round of /health after the last probe
    finally:
        whole.running = False
        worker.stop()
    after_ready.running = False
    assert whole.answered and after_ready.answered
    return whole.longest_s, after_ready.longest_s


def test_health_answers_within_the_probe_timeout_while_a_worker_recovers(many_users: Worker) -> None:
    longest, _ = restart_and_probe(many_users, f"cold-{uuid.uuid4().hex[:6]}")  # an empty store: full recovery
    assert longest < PROBE_TIMEOUT_S, f"/health took {longest:.1f} s to answer during recovery"


def test_ready_only_once_every_partition_can_process(many_users: Worker) -> None:
    _, longest = restart_and_probe(many_users, "kept")  # warm: the kept store
    assert longest < PROBE_TIMEOUT_S, f"after /ready, the first events blocked the worker for {longest:.1f} s"
