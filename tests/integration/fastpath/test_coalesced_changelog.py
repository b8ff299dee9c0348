"""The batch path with coalesced changelog writes: a SIGKILL between flushes loses nothing; both paths agree."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.integration.engine.replay import PARTITIONS, Replay, load_rows, oracle
from tests.support.kafka import delete_topics

pytestmark = [pytest.mark.data, pytest.mark.slow]
SUBSET = 50_000  # rows: enough for several fetched batches, short enough for a quick test


@pytest.fixture
def replay(kafka_bootstrap: str, kafka_admin, unique: str, tmp_path: Path):
    run = Replay(kafka_bootstrap, kafka_admin, unique, tmp_path)
    yield run
    run.stop()
    delete_topics(kafka_admin, [*run.topics, f"{unique}-engine-state-changelog"])


def processed(path: Path) -> int:
    try:
        return int(json.loads(path.read_text())["count"])
    except (OSError, ValueError, KeyError):
        return 0


def changelog_records(bootstrap: str, app_id: str) -> int:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{app_id}-probe"})
    try:
        tps = [TopicPartition(f"{app_id}-engine-state-changelog", p) for p in range(PARTITIONS)]
        return sum(consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in tps)
    finally:
        consumer.close()


def test_sigkill_between_flushes_loses_nothing(
    replay: Replay, taobao_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, _ = load_rows(taobao_file, limit=SUBSET)
    expected = oracle(rows)
    replay.produce(rows)
    progress = tmp_path / "progress.json"
    monkeypatch.setenv("NUDGE_PROGRESS_FILE", str(progress))
    first = replay.start_worker("w1", identity="worker-0")
    deadline = time.monotonic() + 120
    while processed(progress) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    # Killed right after its first batches: their state is in memory only, their offsets uncommitted.
    first.kill(signal.SIGKILL)
    done_before_kill = processed(progress)
    assert 0 < done_before_kill < len(rows)
    replay.start_worker("w2", identity="worker-0")
    jobs = replay.read_jobs(len(expected), timeout=180)
    assert {(j.user_id, j.created_at_ms) for j in jobs} == expected  # rebuilt from changelog + reprocessed offsets
    assert len({j.job_id for j in jobs}) == len(expected)  # re-sends keep their deterministic ids
    # One changelog record per dirty key per flush: fewer records than events, though every event
    # changed a state and some were processed twice (a write per event would give more than len(rows)).
    users = len({r.user for r in rows})
    assert users <= changelog_records(replay.bootstrap, replay.app_id) < len(rows)
