"""Replays of the real Taobao clickstream through the broker: oracle equality, rebalance, SIGKILL."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from schemas.records import NotificationJob
from tests.integration.engine.replay import Replay, load_rows, oracle
from tests.support.kafka import delete_topics

pytestmark = [pytest.mark.data, pytest.mark.slow]
SUBSET = 50_000  # rows (about an hour of events) for the multi-worker and crash runs, to keep them quick


@pytest.fixture
def replay(kafka_bootstrap: str, kafka_admin, unique: str, tmp_path: Path):
    run = Replay(kafka_bootstrap, kafka_admin, unique, tmp_path)
    yield run
    run.stop()
    delete_topics(kafka_admin, run.topics)


def firings(jobs: list[NotificationJob]) -> set[tuple[str, int]]:
    return {(j.user_id, j.created_at_ms) for j in jobs}


def test_whole_file_cart_abandonment_equals_the_oracle(replay: Replay, taobao_file: Path) -> None:
    rows, bad = load_rows(taobao_file)
    assert bad == 1  # the truncated last line is reported, not guessed
    expected = oracle(rows)
    assert len(expected) > 1000
    replay.produce(rows, extra=[(0, b"not avro")])
    replay.start_worker("w1")
    jobs = replay.read_jobs(len(expected), timeout=240)
    assert firings(jobs) == expected
    assert len(jobs) == len({j.job_id for j in jobs})  # no duplicates without a crash
    assert {j.data["discount_code"] for j in jobs} == {"COMEBACK10"}


def test_two_workers_with_a_rebalance_give_the_same_firings(replay: Replay, taobao_file: Path) -> None:
    rows, _ = load_rows(taobao_file, limit=SUBSET)
    expected = oracle(rows)
    replay.produce(rows)
    replay.start_worker("w1")
    time.sleep(6)  # the first worker is mid-replay when the second joins
    replay.start_worker("w2")
    jobs = replay.read_jobs(len(expected), timeout=180)
    assert firings(jobs) == expected
    # A rebalance hands over what was handled: the worker giving up partitions commits them first.
    assert len(jobs) == len({j.job_id for j in jobs}) == len(expected)


def test_sigkill_and_restart_lose_nothing(replay: Replay, taobao_file: Path) -> None:
    rows, _ = load_rows(taobao_file, limit=SUBSET)
    expected = oracle(rows)
    replay.produce(rows)
    first = replay.start_worker("w1", identity="worker-0")
    time.sleep(8)
    first.kill(signal.SIGKILL)
    replay.start_worker("w1b", identity="worker-0")
    jobs = replay.read_jobs(len(expected), timeout=180)
    ids = Counter(j.job_id for j in jobs)
    assert firings(jobs) == expected  # nothing lost
    assert len(ids) == len(expected)  # every duplicate is a re-send of the same id (deduplicated downstream)
