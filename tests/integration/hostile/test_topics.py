"""Hypothesis garbage on every input topic, through real `nudge worker` and `nudge deliver` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from confluent_kafka import Producer

from schemas.codec import decode, encode
from schemas.records import BehaviorEvent, DeadLetter, DeviceToken, NotificationJob, UserProfile
from streams.validation import check_record
from tests.integration.hostile.counts import COUNTS
from tests.integration.hostile.payloads import CLASSES, payloads
from tests.support.kafka import consume_all, create_topics, delete_topics
from tests.support.net import free_port
from tests.support.partitions import key_per_partition
from tests.support.policies import write_without_quiet_hours

ROOT = Path(__file__).resolve().parents[3]
NUDGE = str(Path(sys.executable).with_name("nudge"))
PARTITIONS = 2
EXAMPLES = int(os.environ.get("NUDGE_HOSTILE_EXAMPLES", "150"))
TRIGGERS = "triggers:\n  - {id: welcome, kind: event, on: signup, message: {title: 'Hi {{ 7*7 }}', body: b}}\n"
INPUTS = {"behavior.events": "event", "user.profiles": "profile", "catalog.updates": "catalog"}


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env={**os.environ, **env}, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(60)  # a loaded CI machine can take a while to commit and close
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # the worker logs every task's stack: why it did not stop
            time.sleep(2)
            proc.kill()
    return proc.wait()


def expected_dead(values: list[bytes], cls: type, now_ms: int) -> int:
    return sum(
        isinstance(check_record(v, b"k", topic="t", partition=0, offset=0, now_ms=now_ms, expected=cls), DeadLetter)
        for v in values
    )


def test_engine_topics_dead_letter_garbage_and_keep_flowing(kafka_bootstrap, kafka_admin, unique, tmp_path) -> None:
    prefix = f"{unique}."
    names = [prefix + t for t in INPUTS] + [prefix + t + ".dlq" for t in INPUTS] + [prefix + "notifications.jobs"]
    create_topics(kafka_admin, names, PARTITIONS)
    (tmp_path / "triggers.yaml").write_text(TRIGGERS)
    env = {
        "NUDGE_APP_ID": unique,
        "NUDGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "NUDGE_TOPIC_PREFIX": prefix,
        "NUDGE_TOPIC_PARTITIONS": str(PARTITIONS),
        "NUDGE_REPLAY": "true",
        "NUDGE_TRIGGERS_FILE": str(tmp_path / "triggers.yaml"),
        "NUDGE_DECISIONS_FILE": str(write_without_quiet_hours(tmp_path / "decisions.yaml")),
        "NUDGE_DATA_DIR": str(tmp_path / "data"),
        "NUDGE_WEB_PORT": str(free_port()),
    }
    worker = spawn([NUDGE, "worker", "-l", "warn"], env, tmp_path / "worker.log")
    try:
        now = int(time.time() * 1000)
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 2_000_000})
        expected = 0
        expected_by_topic: dict[str, int] = {}
        for topic, kind in INPUTS.items():
            values = payloads(kind, now, EXAMPLES)
            dead = expected_dead(values, CLASSES[kind], now)
            expected += dead
            expected_by_topic[topic] = dead
            COUNTS[(topic, "tried")] += len(values)
            COUNTS[(topic, "dlq")] += dead
            COUNTS[(topic, "accepted")] += len(values) - dead
            for i, value in enumerate(values):
                producer.produce(prefix + topic, value, key=b"k%d" % i, partition=i % PARTITIONS)
        users = key_per_partition("sentinel", PARTITIONS)  # a user id per partition: each must still flow
        for p, user in enumerate(users):  # after the garbage, on every partition: a valid event that fires at once
            # With its profile, as a real signup has: welcome otherwise waits (in event time) for the user's name.
            profile = UserProfile(user_id=user, first_name="Ada", updated_at_ms=now)
            producer.produce(prefix + "user.profiles", encode(profile), key=user.encode(), partition=p)
            ok = BehaviorEvent(event_id=f"{user}-signup", user_id=user, type="signup", event_time_ms=now)
            producer.produce(prefix + "behavior.events", encode(ok), key=user.encode(), partition=p)
        assert producer.flush(30) == 0
        jobs: list[NotificationJob] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not {u for u in users} <= {j.user_id for j in jobs}:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            jobs = [decode(m.value(), NotificationJob) for m in consume_all(kafka_bootstrap, names[-1], 10**6, 3)]
        assert set(users) <= {j.user_id for j in jobs}, (tmp_path / "worker.log").read_text()[-3000:]
        letters = []
        for topic in INPUTS:  # each input topic drains on its own schedule: wait for each one's count
            letters += [
                decode(m.value(), DeadLetter)
                for m in consume_all(kafka_bootstrap, prefix + topic + ".dlq", expected_by_topic[topic], 90)
            ]
        assert len(letters) == expected
        assert all(letter.error and letter.error_kind for letter in letters)  # every one says why
        assert worker.poll() is None  # never crashed
    finally:
        assert stop(worker) == 0, (tmp_path / "worker.log").read_text()[-3000:]
        delete_topics(kafka_admin, names)


def test_device_tokens_garbage_is_dead_lettered_by_the_delivery_worker(
    kafka_bootstrap, kafka_admin, redis_url, redis_prefix, unique, tmp_path
) -> None:
    prefix = f"{unique}."
    names = [
        prefix + t
        for t in (
            "device.tokens",
            "notifications.jobs.dlq",
            "notifications.jobs",
            "notifications.jobs.retry",
            "notifications.delivery",
        )
    ]
    create_topics(kafka_admin, names, PARTITIONS)
    env = {
        "NUDGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "NUDGE_REDIS_URL": redis_url,
        "NUDGE_TOPIC_PREFIX": prefix,
        "NUDGE_DELIVERY_PROVIDER": "console",
        "NUDGE_DELIVERY_REDIS_PREFIX": redis_prefix,
    }
    worker = spawn([NUDGE, "deliver", "--group-id", unique, "--metrics-port", "0"], env, tmp_path / "deliver.log")
    client = redis.Redis.from_url(redis_url)
    try:
        now = int(time.time() * 1000)
        values = payloads("device", now, EXAMPLES)
        dead = expected_dead(values, DeviceToken, now)
        COUNTS[("device.tokens", "tried")] += len(values)
        COUNTS[("device.tokens", "dlq")] += dead
        COUNTS[("device.tokens", "accepted")] += len(values) - dead
        producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 2_000_000})
        for i, value in enumerate(values):
            producer.produce(names[0], value, key=b"k%d" % i, partition=i % PARTITIONS)
        for p, user in enumerate(key_per_partition("sentinel", PARTITIONS)):
            token = DeviceToken(user_id=user, token=f"tok-{user}", platform="android", updated_at_ms=now)
            producer.produce(names[0], encode(token), key=user.encode(), partition=p)
        assert producer.flush(30) == 0
        deadline = time.monotonic() + 60
        keys = [f"{redis_prefix}tokens:{u}" for u in key_per_partition("sentinel", PARTITIONS)]
        while time.monotonic() < deadline and not all(client.exists(k) for k in keys):
            assert worker.poll() is None, (tmp_path / "deliver.log").read_text()[-3000:]
            time.sleep(0.5)
        assert all(client.exists(k) for k in keys)  # both partitions still flow
        letters = [decode(m.value(), DeadLetter) for m in consume_all(kafka_bootstrap, names[1], dead, 15)]
        assert len(letters) == dead and all(d.error for d in letters)
    finally:
        assert stop(worker) == 0, (tmp_path / "deliver.log").read_text()[-3000:]
        for key in client.scan_iter(f"{redis_prefix}*"):
            client.delete(key)
        client.close()
        delete_topics(kafka_admin, names)
