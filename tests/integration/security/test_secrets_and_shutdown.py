"""Real processes with known secrets and PII: nothing leaks into logs, /metrics or output topics; SIGTERM exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import redis

from connectors.fcm_local.credentials import write_service_account
from connectors.fcm_local.thread import ThreadedLocalFcm
from schemas.codec import encode
from schemas.records import NotificationJob
from tests.integration.security.conftest import PASSWORD
from tests.support.kafka import consume_all, create_topics, delete_topics
from tests.support.net import free_port
from tests.support.policies import write_without_quiet_hours

ROOT = Path(__file__).resolve().parents[3]
NUDGE = str(Path(sys.executable).with_name("nudge"))
API_KEY = "collector-key-5c1e7b"
WEBHOOK_SECRET = "webhook-secret-93af"
KAFKA_SASL = "kafka-pass-unused-41"
PII = ["Zelda Quuxley", "zelda.quuxley@example.com", "tok-PII-zelda-device-0001"]
TRIGGERS = "triggers:\n  - {id: welcome, kind: event, on: cart}\n"
TOPICS = ["behavior.events", "user.profiles", "catalog.updates", "device.tokens", "notifications.jobs",
          "notifications.decisions", "notifications.delivery", "notifications.jobs.retry", "notifications.jobs.dlq",
          "behavior.events.dlq", "user.profiles.dlq", "catalog.updates.dlq", "analytics.trigger_metrics"]  # fmt: skip


def http(url: str, body: object | None = None, key: str | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {key}"} if key else {})
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read()


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if http(url)[0] == 200:
                return
        except OSError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.3)


@pytest.mark.timeout(300)
def test_no_secret_or_pii_in_logs_metrics_or_topics_and_sigterm_exits_0(
    kafka_bootstrap, kafka_admin, private_redis, unique, tmp_path
) -> None:
    prefix = f"{unique}."
    create_topics(kafka_admin, [prefix + t for t in TOPICS], 2)
    fcm = ThreadedLocalFcm().start()
    sa = write_service_account(tmp_path / "sa.json", fcm.base_url, "nudge-secrets")
    private_key = json.loads(sa.read_text())["private_key"]
    key_line = private_key.splitlines()[5]  # a line from the middle of the PEM body
    secrets = [API_KEY, WEBHOOK_SECRET, KAFKA_SASL, PASSWORD, key_line, key_line[:24]]
    (tmp_path / "triggers.yaml").write_text(TRIGGERS)
    ports = {"collect": free_port(), "deliver": free_port(), "worker": free_port()}
    env = {
        **os.environ,
        "NUDGE_APP_ID": unique,
        "NUDGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "NUDGE_KAFKA_SASL_PASSWORD": KAFKA_SASL,  # set but unused (PLAINTEXT): must not be printed anyway
        "NUDGE_REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:{private_redis}/0",
        "NUDGE_TOPIC_PREFIX": prefix,
        "NUDGE_TOPIC_PARTITIONS": "2",
        "NUDGE_REPLAY": "true",
        "NUDGE_TRIGGERS_FILE": str(tmp_path / "triggers.yaml"),
        "NUDGE_DECISIONS_FILE": str(write_without_quiet_hours(tmp_path / "decisions.yaml")),
        "NUDGE_DATA_DIR": str(tmp_path / "data"),
        "NUDGE_WEB_PORT": str(ports["worker"]),
        "NUDGE_COLLECTOR_API_KEYS": f"other-key-1,{API_KEY}",
        "NUDGE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "NUDGE_FCM_ENDPOINT": fcm.base_url,
        "NUDGE_FCM_CA_FILE": str(fcm.ca_file),
        "NUDGE_FCM_CREDENTIALS_FILE": str(sa),
        "NUDGE_DELIVERY_REDIS_PREFIX": f"{unique}:",
    }
    commands = {
        "collect": [NUDGE, "collect", "--port", str(ports["collect"])],
        "deliver": [NUDGE, "deliver", "--group-id", f"{unique}-delivery", "--metrics-port", str(ports["deliver"])],
        "worker": [NUDGE, "worker", "-l", "info"],
    }
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    procs = {
        name: subprocess.Popen(args, env=env, cwd=ROOT, stdout=logs[name].open("ab"), stderr=subprocess.STDOUT)
        for name, args in commands.items()
    }
    try:
        base = f"http://127.0.0.1:{ports['collect']}"
        wait_http(f"{base}/health", procs["collect"], logs["collect"])
        now = int(time.time() * 1000)
        user = "u-secret-1"
        device = {"user_id": user, "token": PII[2], "platform": "android", "updated_at_ms": now}
        assert http(f"{base}/v1/devices", [device], API_KEY)[0] == 202
        name = PII[0] + " {{ ''.__class__.__mro__ }}"  # data, never evaluated by the sandboxed template
        profile = {"user_id": user, "first_name": name, "attributes": {"email": PII[1]}, "updated_at_ms": now}
        assert http(f"{base}/v1/profiles", [profile], API_KEY)[0] == 202
        time.sleep(3)  # let the profile land first, so the template usually sees the name
        event = {
            "event_id": "e1",
            "user_id": user,
            "type": "cart",
            "event_time_ms": now,
            "properties": {"email": PII[1]},
        }
        assert http(f"{base}/v1/events", [event], API_KEY)[0] == 202
        deadline = time.monotonic() + 120
        while not fcm.call(lambda: list(fcm.fcm.state.accepted)) and time.monotonic() < deadline:
            for name, proc in procs.items():
                assert proc.poll() is None, f"{name}: {logs[name].read_text()[-3000:]}"
            time.sleep(0.5)
        accepted = fcm.call(lambda: list(fcm.fcm.state.accepted))
        assert [m["message"]["token"] for m in accepted] == [PII[2]]  # the whole pipeline ran
        title = accepted[0]["message"]["notification"]["title"]
        assert "<class" not in title and "object" not in title, title  # the injected expression never ran
        metrics = http(f"{base}/metrics")[1] + http(f"http://127.0.0.1:{ports['deliver']}/metrics")[1]
        metrics += http(f"http://127.0.0.1:{ports['worker']}/metrics")[1]
        assert b"nudge_" in metrics
    finally:
        codes, took = {}, {}
        for name in ("collect", "worker", "deliver"):  # graceful stop: SIGTERM, bounded, exit 0
            started = time.monotonic()
            procs[name].send_signal(signal.SIGTERM)
            try:
                codes[name] = procs[name].wait(30)
            except subprocess.TimeoutExpired:
                procs[name].kill()
                codes[name] = procs[name].wait()
            took[name] = time.monotonic() - started
        fcm.close()
    assert codes == {"collect": 0, "worker": 0, "deliver": 0}, (codes, {n: logs[n].read_text()[-2000:] for n in logs})
    assert max(took.values()) < 30, took
    texts = {f"log {n}": logs[n].read_bytes() for n in logs} | {"metrics": metrics}
    for topic in ("notifications.jobs", "notifications.decisions", "notifications.delivery"):
        texts[topic] = b"".join(m.value() for m in consume_all(kafka_bootstrap, prefix + topic, 10**6, timeout=5))
    assert texts["notifications.delivery"]  # results were written (and carry token hashes only)
    for where, text in texts.items():
        for secret in secrets:
            assert secret.encode() not in text, f"a secret leaked into {where}"
        if where.startswith("log") or where == "metrics":
            for value in PII:
                assert value.encode() not in text, f"PII {value!r} in {where}"
    assert PII[2].encode() not in texts["notifications.delivery"]  # raw tokens are never published
    delete_topics(kafka_admin, [prefix + t for t in TOPICS])


@pytest.mark.timeout(180)
def test_delivery_sigterm_mid_batch_then_restart_loses_nothing_and_sends_once(
    kafka_bootstrap, kafka_admin, private_redis, unique, tmp_path
) -> None:
    names = {t: f"{unique}.{t}" for t in TOPICS if t.startswith(("notifications", "device"))}
    create_topics(kafka_admin, list(names.values()), 2)
    fcm = ThreadedLocalFcm().start()
    sa = write_service_account(tmp_path / "sa.json", fcm.base_url, "nudge-term")
    redis_url = f"redis://:{PASSWORD}@127.0.0.1:{private_redis}/0"
    now = int(time.time() * 1000)
    client = redis.Redis.from_url(redis_url)
    users = [f"u{i}" for i in range(30)]
    for u in users:  # devices straight into the store, so no job races the token consumer
        client.hset(f"{unique}:tokens:{u}", mapping={f"tok-{u}": f"android||{now}"})
    client.close()
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for i, u in enumerate(users):
        job = NotificationJob(
            job_id=f"j{i}", firing_id=f"f{i}", user_id=u, trigger_id="t", variant="a", title="T", body="B",
            priority="normal", ttl_seconds=3600, created_at_ms=now, not_after_ms=now + 3_600_000,
        )  # fmt: skip
        producer.produce(names["notifications.jobs"], encode(job), key=u.encode())
    assert producer.flush(15) == 0
    fcm.call(fcm.fcm.fail, delay_ms=300, seconds=6)  # slow sends: SIGTERM lands while a batch is in flight
    env = {**os.environ, "NUDGE_KAFKA_BOOTSTRAP": kafka_bootstrap, "NUDGE_REDIS_URL": redis_url,
           "NUDGE_FCM_ENDPOINT": fcm.base_url, "NUDGE_FCM_CA_FILE": str(fcm.ca_file),
           "NUDGE_FCM_CREDENTIALS_FILE": str(sa),
           "NUDGE_TOPIC_PREFIX": f"{unique}.", "NUDGE_DELIVERY_REDIS_PREFIX": f"{unique}:",
           "NUDGE_DELIVERY_BURST": "5", "NUDGE_DELIVERY_BATCH_SIZE": "5"}  # fmt: skip
    args = [NUDGE, "deliver", "--group-id", unique, "--metrics-port", "0"]
    log = tmp_path / "deliver.log"
    try:
        first = subprocess.Popen(args, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not fcm.call(lambda: fcm.fcm.state.requests) and time.monotonic() < deadline:
            time.sleep(0.05)
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0, log.read_text()[-3000:]
        sent_before = len(fcm.call(lambda: list(fcm.fcm.state.accepted)))
        assert 0 < sent_before < len(users)  # stopped mid-way, after finishing what was in flight
        second = subprocess.Popen(args, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while len(fcm.call(lambda: list(fcm.fcm.state.accepted))) < len(users) and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(2)  # a late duplicate would show up here
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, log.read_text()[-3000:]
        accepted = fcm.call(lambda: list(fcm.fcm.state.accepted))
        pairs = [(m["message"]["data"]["nudge_job_id"], m["message"]["token"]) for m in accepted]
        assert sorted(set(pairs)) == sorted((f"j{i}", f"tok-{u}") for i, u in enumerate(users))  # none lost
        assert len(pairs) == len(users)  # none twice
    finally:
        fcm.close()
        delete_topics(kafka_admin, list(names.values()))
