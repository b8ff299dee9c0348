"""What analysts tapping the output topics see across a rebalance and a crash: each job and decision once."""

from __future__ import annotations

import signal
import time

import pytest
from confluent_kafka import Consumer, TopicPartition

from schemas.codec import decode
from schemas.records import BehaviorEvent, NotificationDecision, NotificationJob
from tests.faults.conftest import OUTPUTS, OutputRow
from tests.faults.harness import PARTITIONS, Reader, Run
from tests.faults.test_faults import hold

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]
FAULT = "stream workers 1 -> 2 -> 1, then SIGKILL"
USERS = 3_000
SPAN_MS = 100 * 60_000  # event time the carts are spread over: windows expire through the last 70% of the feed
FEED_SECONDS = 40.0


def carts(now_ms: int) -> list[BehaviorEvent]:
    """One cart per user, evenly over SPAN_MS: jobs and decisions flow for most of the feed, not only at its end."""
    start = now_ms - SPAN_MS
    return [BehaviorEvent(event_id=f"cart-{u}", user_id=f"buyer{u:05d}", type="cart",
                          event_time_ms=start + u * SPAN_MS // USERS, item_id=f"item{u % 50}")
            for u in range(USERS)]  # fmt: skip


def caught_up(run: Run) -> bool:
    """Every input record processed and its offset committed (the outputs are confirmed before that)."""
    consumer = Consumer({"bootstrap.servers": run.stack.bootstrap, "group.id": run.name, "enable.auto.commit": False})
    try:
        tps = [TopicPartition(run.prefix + "behavior.events", p) for p in range(PARTITIONS)]
        committed = consumer.committed(tps, timeout=10)
        ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in tps]
        return all(c.offset == end for c, end in zip(committed, ends, strict=True))
    finally:
        consumer.close()


def wait_for_new_jobs(run: Run, jobs: Reader, timeout: float = 60) -> None:
    """Until the jobs topic grew: outputs are flowing, so the last ones are not committed yet."""
    before, deadline = len(jobs.read(0.2)), time.monotonic() + timeout
    while len(jobs.read(0.2)) == before:
        assert time.monotonic() < deadline, f"no new job for {timeout} s:\n{run.logs()}"
        run.supervise()


def count(run: Run, fault: str, name: str, cls: type, id_of) -> OutputRow:
    reader = Reader(run.stack.bootstrap, run.prefix + name)
    try:
        values = reader.read(3.0)
    finally:
        reader.close()
    ids = [id_of(decode(v, cls)) for v in values]
    return OutputRow(fault, name, len(ids), len(set(ids)))


# On RocksDB, as the chart runs it: the killed worker restarts on its kept store, which must hold no state of the
# transaction the kill aborted.
EXACTLY_ONCE = {"NUDGE_PROCESSING_GUARANTEE": "exactly_once", "NUDGE_STORE": "rocksdb://"}


# A rebalance alone repeats nothing at-least-once (each partition is committed before it is handed over). A SIGKILL
# makes the next owner redo the batches since the last commit: at-least-once sends their jobs and decisions again
# (same ids: delivery dedups them, readers of the topics would not), exactly-once aborted them with the transaction.
@pytest.mark.parametrize("crash", [False, True], ids=["rebalance", "sigkill-exactly-once"])
def test_output_topics_carry_each_job_and_decision_once(private_stack, tmp_path, crash) -> None:
    fault = FAULT + " (exactly-once)" if crash else "stream workers 1 -> 2 -> 1"
    run = Run(private_stack, f"outputs{time.monotonic_ns() % 10**8}", tmp_path, carts(int(time.time() * 1000)),
              feed_seconds=FEED_SECONDS, worker_env=EXACTLY_ONCE if crash else None)  # fmt: skip
    jobs = Reader(private_stack.bootstrap, run.prefix + "notifications.jobs")
    try:
        run.add_worker()
        run.feed()
        wait_for_new_jobs(run, jobs)
        run.add_worker()  # 1 -> 2: a rebalance while jobs flow
        hold(run, 6)
        assert run.workers[0].stop() == 0  # 2 -> 1
        wait_for_new_jobs(run, jobs)
        if crash:
            assert run._feeder is not None and run._feeder.is_alive(), "the feed ended before the crash"
            run.workers[1].kill(signal.SIGKILL)  # while it sends jobs; the supervisor restarts it, as a pod would be
        deadline = time.monotonic() + 240
        while run._feeder.is_alive() or not caught_up(run):
            assert time.monotonic() < deadline, run.logs()
            hold(run, 1)
        rows = [
            count(run, fault, "notifications.jobs", NotificationJob, lambda j: j.job_id),
            count(run, fault, "notifications.decisions", NotificationDecision, lambda d: d.decision_id),
        ]
    finally:
        jobs.close()
        run.close()
    OUTPUTS.extend(rows)
    assert rows[0].distinct > USERS // 2, rows  # most carts were abandoned: the run saw its outputs
    assert [r.duplicates for r in rows] == [0, 0], rows
