"""One delivery worker's notifications/s against the local FCM endpoint: a measurement, not a test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from connectors.delivery.metrics import build_metrics
from connectors.delivery.pipeline import Deliverer, RetryPolicy
from connectors.delivery.providers.base import Provider
from connectors.delivery.providers.console import ConsoleProvider
from connectors.delivery.providers.fcm import FcmProvider
from connectors.delivery.worker import DeliveryWorker, Topics
from connectors.fcm_local.credentials import write_service_account
from connectors.fcm_local.thread import ThreadedLocalFcm
from connectors.stores.idempotency import IdempotencyStore
from connectors.stores.ratelimit import RateLimiter
from connectors.stores.tokens import TokenStore
from schemas.codec import encode
from schemas.records import NotificationJob

PROJECT = "nudge-bench"


async def _count(bootstrap: str, topic: str, n: int, timeout_s: float) -> tuple[int, float, float]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    seen, first, last = 0, 0.0, 0.0
    deadline = time.monotonic() + timeout_s
    try:
        while seen < n and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            got = sum(len(v) for v in batch.values())
            if got and not first:
                first = time.monotonic()
            seen += got
            last = time.monotonic() if got else last
    finally:
        await consumer.stop()
    return seen, first, last


async def measure(
    bootstrap: str,
    redis_url: str,
    jobs: int = 20_000,
    rate_per_s: float = 1e6,
    timeout_s: float = 300,
    provider_name: str = "fcm",
    fcm_url: str | None = None,
) -> dict[str, float]:
    """Deliver `jobs` one-device jobs through one worker: `fcm` = real firebase-admin to the local endpoint,
    `console` (to /dev/null) = the pipeline alone (Kafka, Redis, claims, results). Pass `fcm_url` of a
    `nudge fcm-local` process to keep the endpoint off this process's GIL (else it runs on a thread here)."""
    run = uuid.uuid4().hex[:8]
    names = Topics(*(f"bench.{run}.{n}" for n in ("jobs", "retry", "dlq", "delivery", "tokens")))
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(t, 1, 1) for t in vars(names).values()]).values():
        f.result(15)
    fcm = None if fcm_url else ThreadedLocalFcm().start()
    base_url = fcm_url or fcm.base_url  # type: ignore[union-attr]
    creds = write_service_account(Path(tempfile.mkdtemp()) / "sa.json", base_url, PROJECT)
    redis = Redis.from_url(redis_url)
    prefix = f"bench:{run}:"
    try:
        now = int(time.time() * 1000)
        async with redis.pipeline(transaction=False) as pipe:
            for i in range(jobs):
                pipe.hset(f"{prefix}tokens:u{i}", f"tok-{i}", f"android||{now}")
            await pipe.execute()
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        for i in range(jobs):
            job = NotificationJob(
                job_id=f"b{i}", firing_id=f"f{i}", user_id=f"u{i}", trigger_id="bench", variant="a", title="Hi",
                body="A bench push", priority="high", ttl_seconds=3600, created_at_ms=now, not_after_ms=now + 3_600_000,
            )  # fmt: skip
            producer.produce(names.jobs, encode(job), key=job.user_id.encode())
            producer.poll(0)
        producer.flush(30)
        sink = open(os.devnull, "w")  # noqa: SIM115
        provider: Provider = (
            FcmProvider(PROJECT, str(creds), base_url) if provider_name == "fcm" else ConsoleProvider(sink)
        )
        await provider.start()
        tokens = TokenStore(redis, prefix)
        deliverer = Deliverer(
            provider, tokens, IdempotencyStore(redis, "bench", prefix),
            RateLimiter(redis, "fcm", rate_per_s, 500, prefix), build_metrics(CollectorRegistry()), RetryPolicy(),
        )  # fmt: skip
        worker = DeliveryWorker(bootstrap, f"bench-{run}", names, deliverer, tokens)
        task = asyncio.create_task(worker.run())
        seen, first, last = await _count(bootstrap, names.delivery, jobs, timeout_s)
        worker.stop()
        await task
        await provider.close()
        sink.close()
        elapsed = max(last - first, 1e-9)
        return {"jobs": jobs, "results": seen, "seconds": round(elapsed, 2), "per_second": round(seen / elapsed, 1)}
    finally:
        with contextlib.suppress(Exception):
            keys = [k async for k in redis.scan_iter(f"{prefix}*")]
            for start in range(0, len(keys), 1000):
                await redis.delete(*keys[start : start + 1000])
        await redis.aclose()
        if fcm is not None:
            fcm.close()
        admin.delete_topics(list(vars(names).values()))


if __name__ == "__main__":
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    name = sys.argv[2] if len(sys.argv) > 2 else "fcm"
    url = sys.argv[3] if len(sys.argv) > 3 else None
    print(asyncio.run(measure("127.0.0.1:9092", "redis://127.0.0.1:6379/0", count, provider_name=name, fcm_url=url)))
