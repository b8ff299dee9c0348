"""Fixtures for delivery tests: the local FCM endpoint (HTTPS/h2), unique topics, job/token producers, a worker.

`env` runs each test once per FCM transport: the lean one (libcurl, HTTP/2) and firebase-admin's own."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from confluent_kafka import Producer

from connectors.delivery.worker import Topics
from connectors.fcm_local.credentials import write_service_account
from connectors.fcm_local.thread import ThreadedLocalFcm
from schemas.codec import decode, encode
from schemas.records import DeliveryResult, DeviceToken, NotificationJob
from streams.commands.deliver import run_worker
from streams.settings import Settings
from tests.support.kafka import consume_all

PROJECT = "nudge-test"
NUDGE = str(Path(sys.executable).with_name("nudge"))
TRANSPORTS = ["lean", "firebase-admin"]


@pytest.fixture
def fcm() -> Iterator[ThreadedLocalFcm]:
    server = ThreadedLocalFcm().start()
    yield server
    server.close()


def tail(proc: subprocess.Popen) -> str:
    """The end of a spawned worker's log, for assertion messages."""
    return Path(proc.log_path).read_text()[-3000:]  # type: ignore[attr-defined]


@pytest.fixture
def fcm_credentials(fcm: ThreadedLocalFcm, tmp_path: Path) -> str:
    return str(write_service_account(tmp_path / "sa.json", fcm.base_url, PROJECT))


@pytest.fixture
def topics(topic_factory) -> Topics:
    return Topics(
        jobs=topic_factory("notifications.jobs", 2),
        retry=topic_factory("notifications.jobs.retry", 2),
        dlq=topic_factory("notifications.jobs.dlq"),
        delivery=topic_factory("notifications.delivery"),
        tokens=topic_factory("device.tokens"),
    )


def job(job_id: str, user_id: str, *, now_ms: int | None = None, ttl_s: int = 3600, **extra) -> NotificationJob:
    now_ms = now_ms or int(time.time() * 1000)
    return NotificationJob(
        job_id=job_id,
        firing_id=f"f-{job_id}",
        user_id=user_id,
        trigger_id="cart_abandoned",
        variant="a",
        title="Still thinking about it?",
        body="Your cart is waiting",
        image_url="https://img.example/p.png",
        deep_link="https://shop.example/cart",
        collapse_key="cart",
        priority="high",
        ttl_seconds=ttl_s,
        created_at_ms=now_ms,
        not_after_ms=now_ms + ttl_s * 1000,
        **extra,
    )


def produce(bootstrap: str, topic: str, records: list) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for record in records:
        producer.produce(topic, encode(record), key=record.user_id.encode())
    assert producer.flush(15) == 0


def tokens(user_id: str, *devices: tuple[str, str]) -> list[DeviceToken]:
    now = int(time.time() * 1000)
    return [DeviceToken(user_id=user_id, token=t, platform=p, updated_at_ms=now) for t, p in devices]


def results(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list[DeliveryResult]:
    return [decode(m.value(), DeliveryResult) for m in consume_all(bootstrap, topic, expected, timeout)]


async def aresults(bootstrap: str, topic: str, expected: int, timeout: float = 30.0) -> list[DeliveryResult]:
    return await asyncio.to_thread(results, bootstrap, topic, expected, timeout)


@dataclass
class Env:
    bootstrap: str
    redis_url: str
    prefix: str
    fcm: ThreadedLocalFcm
    credentials: str
    topics: Topics
    transport: str = "lean"
    spawned: list = dataclasses.field(default_factory=list)

    def settings(self, **overrides) -> Settings:
        values = {
            "kafka_bootstrap": self.bootstrap,
            "redis_url": self.redis_url,
            "delivery_redis_prefix": self.prefix,
            "fcm_endpoint": self.fcm.base_url,
            "fcm_ca_file": self.fcm.ca_file,
            "fcm_transport": self.transport,
            "fcm_credentials_file": self.credentials,
            "fcm_project_id": PROJECT,
            "delivery_backoff_base_ms": 100,
            "delivery_metrics_port": 0,
        }
        return Settings(**(values | overrides))

    @contextlib.asynccontextmanager
    async def worker(self, group: str, metrics_port: int = 0, **overrides):
        """Run a worker in this process; cancel it at the end."""
        task = asyncio.create_task(run_worker(self.settings(**overrides), self.topics, group, metrics_port))
        try:
            yield task
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def spawn(self, group: str, extra_env: dict[str, str] | None = None, **overrides) -> subprocess.Popen:
        """Run `nudge deliver` as its own process."""
        s = self.settings(**overrides)
        env = dict(os.environ)
        for name, value in s.model_dump().items():
            if value is None:
                continue
            text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
            env[f"NUDGE_{name.upper()}"] = text
        env |= extra_env or {}
        t = self.topics
        args = [NUDGE, "deliver", "--jobs-topic", t.jobs, "--retry-topic", t.retry, "--dlq-topic", t.dlq]
        args += ["--delivery-topic", t.delivery, "--tokens-topic", t.tokens, "--group-id", group, "--metrics-port", "0"]
        # A file, not a pipe: an unread pipe fills up with log lines and blocks the worker.
        log = tempfile.NamedTemporaryFile(prefix="nudge-deliver-", suffix=".log", delete=False)  # noqa: SIM115
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = log.name  # type: ignore[attr-defined]
        self.spawned.append(proc)
        return proc


@pytest.fixture(params=TRANSPORTS)
def env(request, kafka_bootstrap, redis_url, redis_prefix, fcm, fcm_credentials, topics) -> Iterator[Env]:
    import redis

    env = Env(kafka_bootstrap, redis_url, redis_prefix, fcm, fcm_credentials, topics, request.param)
    yield env
    for proc in env.spawned:  # a failed test must not leave workers behind
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{redis_prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
