"""`nudge collect` with its broker stopped and a flood of requests: 503s, /health answers, nothing accepted is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.codec import decode
from schemas.records import BehaviorEvent
from tests.faults.stack import PrivateStack
from tests.support.kafka import consume_all, create_topics, wait_for_broker
from tests.support.net import free_port

NUDGE = str(Path(sys.executable).with_name("nudge"))
KEY = "collector-key-backpressure"
QUEUE = 2_000  # records the collector's producer holds for Kafka: a small queue fills in a second
BATCH = 100
CLIENTS = 16
FLOOD_S = 6.0
HEADERS = {"Authorization": f"Bearer {KEY}"}


async def flood(
    base: str, session: aiohttp.ClientSession, until: float, tag: str, clients: int
) -> tuple[set[str], list[tuple[int, str]]]:
    """`clients` posting fresh events until `until`: the ids the collector accepted, (status, Retry-After)."""
    accepted: set[str] = set()
    answers: list[tuple[int, str]] = []

    async def client(c: int) -> None:
        n = 0
        while time.monotonic() < until:
            now = int(time.time() * 1000)
            ids = [f"{tag}{c}-{n}-{i}" for i in range(BATCH)]
            n += 1
            batch = [{"event_id": e, "user_id": f"u{c}", "type": "view", "event_time_ms": now} for e in ids]
            async with session.post(f"{base}/v1/events", json=batch, headers=HEADERS) as resp:
                body = await resp.json()
                answers.append((resp.status, resp.headers.get("Retry-After", "")))
            refused = {e["index"] for e in body["errors"]}
            assert {e["kind"] for e in body["errors"]} <= {"queue_full"}, body["errors"][:3]
            if resp.status == 202:
                accepted.update(e for i, e in enumerate(ids) if i not in refused)
            else:
                assert resp.status == 503 and body["accepted"] == 0, (resp.status, body)
                await asyncio.sleep(0.05)

    await asyncio.gather(*(client(c) for c in range(clients)))
    return accepted, answers


async def probe_health(base: str, session: aiohttp.ClientSession, until: float) -> list[float]:
    """Seconds each GET /health took, every 0.2 s until `until`."""
    took = []
    while time.monotonic() < until:
        started = time.monotonic()
        async with session.get(f"{base}/health", timeout=aiohttp.ClientTimeout(total=10)) as resp:
            assert resp.status == 200
        took.append(time.monotonic() - started)
        await asyncio.sleep(0.2)
    return took


async def flood_and_probe(
    base: str, seconds: float, tag: str, clients: int = CLIENTS
) -> tuple[set[str], list[tuple[int, str]], list[float]]:
    """The flood and the /health probes side by side for `seconds`."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        until = time.monotonic() + seconds
        (accepted, answers), health = await asyncio.gather(
            flood(base, session, until, tag, clients), probe_health(base, session, until)
        )
    return accepted, answers, health


def metric(base: str, name: str) -> float:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


def wait_until(what: str, check, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"{what} within {timeout} s\n" + log.read_text()[-3000:]
        time.sleep(0.2)


def healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.mark.timeout(300)
def test_a_stopped_broker_means_503s_a_live_health_check_and_no_accepted_record_lost(unique, tmp_path) -> None:
    stack = PrivateStack(tmp_path / "stack")  # stopping it never touches the shared stack
    stack.start_kafka()
    topic = f"{unique}.behavior.events"
    create_topics(wait_for_broker(stack.bootstrap), [topic], 2)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NUDGE_KAFKA_BOOTSTRAP": stack.bootstrap, "NUDGE_TOPIC_PREFIX": f"{unique}.",
           "NUDGE_COLLECTOR_API_KEYS": KEY, "NUDGE_INGEST_QUEUE_MAX_MESSAGES": str(QUEUE),
           "NUDGE_COLLECTOR_QUEUE_WAIT_MS": "200"}  # fmt: skip
    log = tmp_path / "collect.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([NUDGE, "collect", "--port", str(port)], env=env, stdout=out, stderr=out)
    try:
        wait_until("the collector answers", lambda: healthy(base), proc, log)
        # One event first, acknowledged: the producer knows the partitions' leaders before the flood (on a fresh
        # broker the first request can take longer than the 200 ms a full queue waits).
        request = urllib.request.Request(f"{base}/v1/events", method="POST", headers={**HEADERS, "Content-Type":
            "application/json"}, data=b'[{"event_id": "first", "user_id": "u0", "type": "view", "event_time_ms": %d}]'
            % int(time.time() * 1000))  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 202
        wait_until("the first event acknowledged", lambda: metric(base, "nudge_collector_queued_records") == 0, proc,
                   log)  # fmt: skip
        # One client, one batch in flight: a load a live broker drains faster than it comes (16 clients can outrun a
        # slow machine's producer and fill the small queue with the broker up).
        warm, answers, _ = asyncio.run(flood_and_probe(base, 0.5, "warm", clients=1))
        assert warm and {s for s, _ in answers} == {202}  # the broker is up: everything goes through

        stack.stop_kafka()
        accepted, answers, health = asyncio.run(flood_and_probe(base, FLOOD_S, "flood"))
        statuses = [s for s, _ in answers]
        assert statuses.count(503) > 0, statuses[:20]
        assert {r for s, r in answers if s == 503} == {"1"}  # Retry-After on every 503
        assert len(health) > 10 and max(health) < 2.0, health  # the event loop never blocked on the full queue
        assert len(accepted) >= QUEUE - BATCH  # what filled the queue was accepted (202) before the 503s

        stack.start_kafka()
        wait_until("the queue drained", lambda: metric(base, "nudge_collector_queued_records") == 0, proc, log)
        everything = warm | accepted | {"first"}
        got = [decode(m.value(), BehaviorEvent).event_id for m in consume_all(stack.bootstrap, topic, len(everything))]
        assert set(got) == everything and len(got) == len(everything)  # all accepted, once; none of the 503s
        assert metric(base, "nudge_collector_delivery_failures_total") == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stack.stop()
