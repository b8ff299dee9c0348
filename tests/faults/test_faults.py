"""Each fault against a clean run of the same seeded input: nothing lost, nothing sent twice, same decisions."""

from __future__ import annotations

import random
import signal
import time

import pytest

from tests.faults.conftest import SEED, compare, done_like, start_pipeline
from tests.faults.harness import Run

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]
TIMEOUT = 240


def hold(run: Run, seconds: float) -> None:
    """Wait while supervising (a dead process is restarted, as a pod would be)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        run.supervise()
        time.sleep(0.2)


def check(name: str, clean, run: Run, on_tick=None) -> None:
    faulty = run.wait(done_like(clean), timeout=TIMEOUT, on_tick=on_tick)
    row = compare(name, clean, faulty)
    assert (row.lost, row.duplicated, row.decisions_equal) == (0, 0, True), (row, run.delivery_summary(), run.logs())


def test_clean_run_reference(clean) -> None:
    assert clean.sends and clean.decisions


def test_stream_worker_sigkilled_three_times_mid_replay(clean, run_factory) -> None:
    rng = random.Random(SEED)
    run = run_factory("wkill")
    start_pipeline(run)
    for _ in range(3):
        hold(run, rng.uniform(3.0, 7.0))
        run.workers[0].kill(signal.SIGKILL)
    check("stream worker SIGKILL x3 mid-replay", clean, run)


def test_delivery_worker_killed_between_send_and_commit(clean, run_factory) -> None:
    run = run_factory("dkill")
    run.start_fcm()
    crashing = run.add_deliverer(NUDGE_TEST_CRASH_AFTER_SEND="1")
    run.publish_tokens()
    run.add_worker()
    run.feed()
    deadline = time.monotonic() + 120
    while crashing.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert crashing.popen.returncode == 17, run.logs()  # died right after the provider accepted
    crashing.popen = None  # replaced by a worker without the crash hook
    run.add_deliverer()
    check("delivery worker killed after send, before commit", clean, run)


def test_kafka_broker_stopped_and_restarted_mid_stream(clean, run_factory, private_stack) -> None:
    run = run_factory("kafka")
    start_pipeline(run)
    hold(run, 5)
    private_stack.stop_kafka()
    time.sleep(5)
    private_stack.start_kafka()
    check("kafka broker stopped 5 s mid-stream", clean, run)


def test_redis_stopped_and_restarted_mid_delivery(clean, run_factory, private_stack) -> None:
    run = run_factory("redis")
    start_pipeline(run)
    hold(run, 6)
    private_stack.stop_redis()
    time.sleep(4)
    private_stack.start_redis()
    check("redis stopped 4 s mid-delivery", clean, run)


def test_scaling_one_two_one_stream_workers(clean, run_factory) -> None:
    run = run_factory("scale")
    start_pipeline(run)
    hold(run, 4)
    run.add_worker()
    hold(run, 8)
    assert run.workers[0].stop() == 0
    check("stream workers scaled 1 -> 2 -> 1", clean, run)


def test_fcm_errors_rate_limits_and_slow_answers(clean, run_factory) -> None:
    run = run_factory("fcm")
    run.start_fcm()
    run.fcm_fail(error="INTERNAL", count=15)
    run.fcm_fail(error="QUOTA_EXCEEDED", retry_after_s=2, count=15)
    run.fcm_fail(error="UNAVAILABLE", delay_ms=1500, count=10)  # slow, then failed: nothing accepted
    run.fcm_fail(delay_ms=800, seconds=10)  # slow but successful
    run.add_deliverer()
    run.publish_tokens()
    run.add_worker()
    run.feed()
    check("fcm 500s, 429 + Retry-After, slow answers", clean, run)


def test_fcm_connection_reset_mid_stream(clean, run_factory) -> None:
    """TCP resets (and GOAWAYs) while streams are in flight: unanswered sends fail over to a retry, none twice."""
    run = run_factory("reset")
    run.start_fcm()
    run.add_deliverer()
    run.publish_tokens()
    run.add_worker()
    run.feed()
    faults = ["reset", "reset", "goaway", "reset", "goaway", "reset"]
    due = [time.monotonic() + 1.0]

    def inject() -> None:  # one connection fault every 2 s while the input flows
        if faults and time.monotonic() >= due[0]:
            run.fcm_fail(connection=faults.pop(0), count=1)
            due[0] += 2.0

    check("fcm connection reset / GOAWAY mid-stream", clean, run, on_tick=inject)
    assert run.fcm_stats()["connection_faults"] >= 3, run.fcm_stats()  # the faults did meet requests
