"""One delivery worker's notifications/s against the local FCM endpoint: a checked measurement, not a test."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from connectors.delivery.errors import BenchCheckFailed
from connectors.delivery.metrics import build_metrics
from connectors.delivery.pipeline import Deliverer, RetryPolicy
from connectors.delivery.providers.base import Outcome, Provider, Send
from connectors.delivery.providers.console import ConsoleProvider
from connectors.delivery.providers.fcm_lean import LeanFcmProvider
from connectors.delivery.worker import DeliveryWorker, Topics
from connectors.fcm_local.cluster import LocalFcmCluster
from connectors.fcm_local.credentials import write_service_account
from connectors.stores.idempotency import IdempotencyStore
from connectors.stores.ratelimit import RateLimiter
from connectors.stores.tokens import TokenStore
from schemas.codec import decode, encode
from schemas.records import DeliveryResult, NotificationJob

PROJECT = "nudge-bench"
# The product defaults (NUDGE_DELIVERY_RATE_PER_SECOND / _BURST): the bench runs under the real global limit.
RATE_PER_S = 10_000.0
BURST = 500
# Two endpoint processes: one Python process is slower than the worker it serves on this kind of machine.
FCM_PROCESSES = 2
# firebase-admin's client costs ~3 ms of CPU per message here, ~15x the rest of the worker: the worker
# sends through this many sender processes (NUDGE_FCM_SENDER_PROCESSES), one per core.
SENDER_PROCESSES = 2


class _TimedProvider:
    """The real provider, noting when the first send starts (the measurement's start)."""

    def __init__(self, inner: Provider) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_batch = inner.max_batch
        self.first_send: float | None = None

    async def start(self) -> None:
        await self.inner.start()

    async def send_batch(self, sends: list[Send]) -> list[Outcome]:
        if self.first_send is None:
            self.first_send = time.monotonic()
        return await self.inner.send_batch(sends)

    async def close(self) -> None:
        await self.inner.close()


def _collect(bootstrap: str, topic: str, n: int, timeout_s: float, out: list[tuple[float, DeliveryResult]]) -> None:
    """Read DeliveryResults (on a thread, off the worker's event loop), noting when each arrived."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex[:8]}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < n and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.2):
                if msg.error() is None:
                    out.append((time.monotonic(), decode(msg.value(), DeliveryResult)))
    finally:
        consumer.close()


def _check(jobs: int, results: list[DeliveryResult], endpoint: list[dict] | None) -> None:
    per_job = Counter(r.job_id for r in results)
    problems = []
    if len(per_job) != jobs or set(per_job.values()) != {1}:
        dupes = sum(1 for c in per_job.values() if c > 1)
        problems.append(f"{len(per_job)} of {jobs} jobs have a result, {dupes} have more than one")
    statuses = Counter(r.status for r in results)
    if set(statuses) != {"sent"}:
        problems.append(f"statuses {dict(statuses)}")
    if endpoint is not None:
        pairs = Counter(tuple(p) for rec in endpoint for p in rec["accepted"])
        expected = {(f"b{i}", f"tok-{i}") for i in range(jobs)}
        if set(pairs) != expected or set(pairs.values()) != {1}:
            problems.append(f"endpoint accepted {sum(pairs.values())} sends for {len(pairs)} (job, token) pairs")
    if problems:
        raise BenchCheckFailed("delivery bench: " + "; ".join(problems))


async def measure(
    bootstrap: str,
    redis_url: str,
    jobs: int = 20_000,
    rate_per_s: float = RATE_PER_S,
    timeout_s: float = 300,
    provider_name: str = "fcm",
    fcm_url: str | None = None,
    fcm_processes: int = FCM_PROCESSES,
    sender_processes: int = SENDER_PROCESSES,
) -> dict[str, float]:
    """Deliver `jobs` one-device jobs (a fresh topic) through one worker and check every outcome.

    `fcm`: the real firebase-admin client against the local endpoint, started as `fcm_processes` separate
    processes (or `fcm_url` of a running `nudge fcm-local`); `console` (to /dev/null): the pipeline alone
    (Kafka, Redis tokens, claims, rate limit, results). Timed from the first send to the last DeliveryResult.
    Raises BenchCheckFailed unless every job got exactly one `sent` result and the endpoint (when started
    here) accepted each (job, token) exactly once."""
    run = uuid.uuid4().hex[:8]
    names = Topics(*(f"bench.{run}.{n}" for n in ("jobs", "retry", "dlq", "delivery", "tokens")))
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(t, 1, 1) for t in vars(names).values()]).values():
        f.result(15)
    workdir = Path(tempfile.mkdtemp(prefix="nudge-bench-"))
    cluster = None
    if provider_name == "fcm" and fcm_url is None:
        cluster = LocalFcmCluster(fcm_processes, record_dir=workdir / "fcm").start()
    base_url = fcm_url or (cluster.base_url if cluster else "")
    redis = Redis.from_url(redis_url)
    prefix = f"bench:{run}:"
    endpoint_records: list[dict] | None = None
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
        if provider_name == "fcm":
            creds = write_service_account(workdir / "sa.json", base_url, PROJECT)
            inner: Provider = LeanFcmProvider(PROJECT, str(creds), base_url, ca_file=cluster.ca_file if cluster else None)
        else:
            inner = ConsoleProvider(sink)
        provider = _TimedProvider(inner)
        await provider.start()
        tokens = TokenStore(redis, prefix)
        deliverer = Deliverer(
            provider, tokens, IdempotencyStore(redis, "bench", prefix),
            RateLimiter(redis, provider.name, rate_per_s, BURST, prefix), build_metrics(CollectorRegistry()),
            RetryPolicy(),
        )  # fmt: skip
        worker = DeliveryWorker(bootstrap, f"bench-{run}", names, deliverer, tokens)
        seen: list[tuple[float, DeliveryResult]] = []
        reader = threading.Thread(target=_collect, args=(bootstrap, names.delivery, jobs, timeout_s, seen), daemon=True)
        reader.start()
        task = asyncio.create_task(worker.run())
        await asyncio.to_thread(reader.join)
        worker.stop()
        await task
        await provider.close()
        sink.close()
        if cluster is not None:
            endpoint_records = cluster.close()
            cluster = None
        first = provider.first_send or 0.0
        last = max((t for t, _ in seen), default=first)
        _check(jobs, [r for _, r in seen], endpoint_records)
        elapsed = max(last - first, 1e-9)
        return {
            "jobs": jobs,
            "results": len(seen),
            "seconds": round(elapsed, 2),
            "per_second": round(len(seen) / elapsed, 1),
            "rate_limit_per_second": rate_per_s,
            "endpoint_processes": fcm_processes if provider_name == "fcm" and fcm_url is None else 0,
            "sender_processes": sender_processes if provider_name == "fcm" else 0,
        }
    finally:
        with contextlib.suppress(Exception):
            keys = [k async for k in redis.scan_iter(f"{prefix}*")]
            for start in range(0, len(keys), 1000):
                await redis.delete(*keys[start : start + 1000])
        await redis.aclose()
        if cluster is not None:
            cluster.close()
        admin.delete_topics(list(vars(names).values()))


if __name__ == "__main__":
    import sys

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    name = sys.argv[2] if len(sys.argv) > 2 else "fcm"
    url = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    procs = int(sys.argv[4]) if len(sys.argv) > 4 else FCM_PROCESSES
    senders = int(sys.argv[5]) if len(sys.argv) > 5 else SENDER_PROCESSES
    rate = float(os.environ.get("NUDGE_DELIVERY_RATE_PER_SECOND", RATE_PER_S))
    result = asyncio.run(
        measure(
            "127.0.0.1:9092", "redis://127.0.0.1:6379/0", count, rate, provider_name=name, fcm_url=url,
            fcm_processes=procs, sender_processes=senders,
        )
    )  # fmt: skip
    print(result)
