"""The local stack is real: Kafka round trips with both clients, topics, Faust state recovery, Redis."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Producer

from tests.support.kafka import consume_all, create_topics, delete_topics
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]


async def test_aiokafka_round_trip(kafka_bootstrap: str, topic_factory) -> None:
    topic = topic_factory("stack.aiokafka")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(10):
            await producer.send(topic, key=b"u1", value=f"v{i}".encode())
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        got = []
        async with asyncio.timeout(30):
            while len(got) < 10:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    got.extend(r.value for r in records)
    finally:
        await consumer.stop()
    assert got == [f"v{i}".encode() for i in range(10)]


def test_confluent_round_trip(kafka_bootstrap: str, topic_factory) -> None:
    topic = topic_factory("stack.confluent")
    errors = []
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    for i in range(10):
        producer.produce(topic, key=b"u1", value=f"v{i}".encode(), on_delivery=lambda e, m: e and errors.append(e))
    assert producer.flush(15) == 0
    assert errors == []
    messages = consume_all(kafka_bootstrap, topic, 10)
    assert [m.value() for m in messages] == [f"v{i}".encode() for i in range(10)]


def test_topic_created_with_partitions(kafka_admin, topic_factory) -> None:
    topic = topic_factory("stack.partitions", partitions=6, **{"cleanup.policy": "compact"})
    meta = kafka_admin.list_topics(topic, timeout=10)
    assert len(meta.topics[topic].partitions) == 6


async def test_redis_round_trip(redis_url: str, redis_prefix: str) -> None:
    client = aioredis.from_url(redis_url)
    try:
        await client.set(f"{redis_prefix}k", "v", ex=60)
        assert await client.get(f"{redis_prefix}k") == b"v"
        assert await client.ttl(f"{redis_prefix}k") > 0
    finally:
        await client.delete(f"{redis_prefix}k")
        await client.aclose()


def _start_counter(env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.apps.counter_app", "worker", "-l", "info"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_faust_table_recovers_from_changelog(kafka_bootstrap: str, kafka_admin, tmp_path: Path) -> None:
    """Counts survive a restart with an empty local store: they come back from the changelog."""
    app_id = f"counter-{uuid.uuid4().hex[:8]}"
    in_topic, out_topic = f"{app_id}.in", f"{app_id}.out"
    env = {
        **os.environ,
        "COUNTER_APP_ID": app_id,
        "NUDGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "COUNTER_IN_TOPIC": in_topic,
        "COUNTER_OUT_TOPIC": out_topic,
        "COUNTER_WEB_PORT": str(free_port()),
        "COUNTER_DATA_DIR": str(tmp_path / "data1"),
    }
    log = tmp_path / "worker.log"
    create_topics(kafka_admin, [in_topic, out_topic], partitions=2)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    proc = _start_counter(env, log)
    try:
        for _ in range(5):
            producer.produce(in_topic, key=b'"alice"', value=b'"e"')
        producer.produce(in_topic, key=b'"bob"', value=b'"e"')
        producer.flush(15)
        first = consume_all(kafka_bootstrap, out_topic, 6, timeout=90)
        assert len(first) == 6, log.read_text()[-3000:]
    finally:
        _stop(proc)

    changelog = f"{app_id}-counts-changelog"
    assert changelog in kafka_admin.list_topics(timeout=10).topics

    producer.produce(in_topic, key=b'"alice"', value=b'"e"')
    producer.flush(15)
    try:
        # A fresh local store each time: the state must come from Kafka. Faust's plain agent path sometimes
        # never starts consuming after a recovery that found nothing to read ("Fetcher: Starting" logged
        # before "Seek stream partitions to committed offsets", then no event handled; about 1 start in 5
        # on a loaded box). Nudge's workers consume through their own batch path; this test checks the
        # changelog, so a start that handles nothing for 30 s is stopped and started once more.
        for attempt in (2, 3):
            env["COUNTER_DATA_DIR"] = str(tmp_path / f"data{attempt}")
            proc = _start_counter(env, log)
            try:
                outputs = consume_all(kafka_bootstrap, out_topic, 7, timeout=30 if attempt == 2 else 90)
            finally:
                _stop(proc)
            if len(outputs) == 7:
                break
        assert len(outputs) == 7, log.read_text()[-3000:]
        assert outputs[-1].key() == b'"alice"'
        assert outputs[-1].value() == b'"6"'
    finally:
        delete_topics(kafka_admin, [in_topic, out_topic, changelog])


def _stack_env(local: Path) -> dict[str, str]:
    """A private stack on free ports in `local`, reusing the downloaded jars."""
    shared_jars = Path(os.environ.get("NUDGE_LOCAL_DIR", ROOT / ".local")) / "kafka"
    local.mkdir(parents=True)
    (local / "kafka").symlink_to(shared_jars)
    ports = {"KAFKA_PORT": free_port(), "KAFKA_CONTROLLER_PORT": free_port(), "REDIS_PORT": free_port()}
    return {**os.environ, **{k: str(v) for k, v in ports.items()}, "NUDGE_LOCAL_DIR": str(local), "KAFKA_HEAP": "512m"}


@pytest.mark.slow
def test_the_stack_keeps_no_descriptor_of_its_caller_and_status_is_no_make_error(tmp_path: Path) -> None:
    env = _stack_env(tmp_path / "local")
    lock = tmp_path / "caller.lock"
    stack = ROOT / "deploy" / "local" / "stack.sh"
    make_status = ["make", "--no-print-directory", "-C", str(ROOT), "status"]
    stopped = subprocess.run(make_status, env=env, capture_output=True, text=True, timeout=30)
    assert stopped.returncode == 0 and "Kafka: stopped" in stopped.stdout and "Error" not in stopped.stderr
    # A script that holds a lock while it runs `stack.sh up`: the lock must go when the script ends.
    caller = f'exec 9>"{lock}"; flock 9; "{stack}" up'
    try:
        up = subprocess.run(["bash", "-c", caller], env=env, capture_output=True, text=True, timeout=180)
        assert up.returncode == 0, up.stdout + up.stderr
        assert subprocess.run(["flock", "-n", str(lock), "true"]).returncode == 0, "the lock is still held"
        for pidfile in (tmp_path / "local" / "run").glob("*.pid"):
            fds = Path(f"/proc/{pidfile.read_text().strip()}/fd")
            opened = set()
            for fd in fds.iterdir():
                with contextlib.suppress(OSError):  # a descriptor closed while we look
                    opened.add(os.readlink(fd))
            assert str(lock) not in opened, pidfile.name
        running = subprocess.run(make_status, env=env, capture_output=True, text=True, timeout=30)
        assert running.stdout.count(": running") == 2, running.stdout
    finally:
        subprocess.run([str(stack), "down"], env=env, capture_output=True, timeout=120)
