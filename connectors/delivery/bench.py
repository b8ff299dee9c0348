"""One `nudge deliver` worker's notifications/s and CPU per notification against the local FCM endpoint.

A checked measurement, not a test: `python -m connectors.delivery.bench N [lean|firebase-admin|console]`.
The worker runs as its own process (the real `nudge deliver`), the endpoint as its own processes, and
each process's CPU is read from /proc, so the endpoint's work never counts toward the worker's figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from redis import Redis

from connectors.delivery.errors import BenchCheckFailed
from connectors.delivery.worker import Topics
from connectors.fcm_local.cluster import LocalFcmCluster
from connectors.fcm_local.credentials import write_service_account
from schemas.codec import decode, encode
from schemas.records import DeliveryResult, NotificationJob

PROJECT = "nudge-bench"
# The product defaults (NUDGE_DELIVERY_RATE_PER_SECOND / _BURST): the bench runs under the real global limit.
RATE_PER_S = 10_000.0
BURST = 500
# Two endpoint processes: one Python HTTP/2 server process is slower than the worker it serves.
FCM_PROCESSES = 2
NUDGE = str(Path(sys.executable).with_name("nudge"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process, all its threads (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_of(pids: list[int]) -> float:
    """CPU seconds of several processes together."""
    return sum(cpu_seconds(pid) for pid in pids)


class _Collector(threading.Thread):
    """Reads DeliveryResults off the worker's output topic, sampling the processes' CPU at the first and last."""

    def __init__(self, bootstrap: str, topic: str, n: int, timeout_s: float, worker: int, endpoint: list[int]) -> None:
        super().__init__(daemon=True)
        self.args = (bootstrap, topic, n, timeout_s)
        self.worker, self.endpoint = worker, endpoint
        self.results: list[DeliveryResult] = []
        self.first: tuple[float, int, float, float] | None = None  # (time, results so far, worker cpu, endpoint cpu)
        self.last: tuple[float, int, float, float] | None = None

    def _sample(self) -> tuple[float, int, float, float]:
        return time.monotonic(), len(self.results), cpu_seconds(self.worker), cpu_of(self.endpoint)

    def run(self) -> None:
        bootstrap, topic, n, timeout_s = self.args
        group = f"bench-{uuid.uuid4().hex[:8]}"
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest"})
        consumer.subscribe([topic])
        deadline = time.monotonic() + timeout_s
        try:
            while len(self.results) < n and time.monotonic() < deadline:
                got = [m for m in consumer.consume(1000, timeout=0.1) if m.error() is None]
                if not got:
                    continue
                self.results.extend(decode(m.value(), DeliveryResult) for m in got)
                if self.first is None:
                    self.first = self._sample()  # steady state from here: the worker is up and sending
                self.last = self._sample()
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


def _publish(bootstrap: str, redis_url: str, names: Topics, prefix: str, jobs: int) -> None:
    now = int(time.time() * 1000)
    redis = Redis.from_url(redis_url)
    with redis.pipeline(transaction=False) as pipe:
        for i in range(jobs):
            pipe.hset(f"{prefix}tokens:u{i}", f"tok-{i}", f"android||{now}")
        pipe.execute()
    redis.close()
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
    for i in range(jobs):
        job = NotificationJob(
            job_id=f"b{i}", firing_id=f"f{i}", user_id=f"u{i}", trigger_id="bench", variant="a", title="Hi",
            body="A bench push", priority="high", ttl_seconds=3600, created_at_ms=now, not_after_ms=now + 3_600_000,
        )  # fmt: skip
        producer.produce(names.jobs, encode(job), key=job.user_id.encode())
        producer.poll(0)
    producer.flush(30)


def measure(
    bootstrap: str,
    redis_url: str,
    jobs: int = 20_000,
    transport: str = "lean",
    *,
    rate_per_s: float = RATE_PER_S,
    fcm_processes: int = FCM_PROCESSES,
    tls: bool = True,
    timeout_s: float = 300,
) -> dict[str, float | str]:
    """Deliver `jobs` one-device jobs (fresh topics) through one `nudge deliver` and check every outcome.

    `transport`: `lean` or `firebase-admin` (NUDGE_FCM_TRANSPORT) against the local endpoint (HTTPS/h2 unless
    `tls=False`) started as `fcm_processes` processes; `console` (to /dev/null): the pipeline alone (Kafka,
    Redis tokens, claims, rate limit, results). Timed and CPU-sampled from the first DeliveryResult to the
    last; raises BenchCheckFailed unless every job got exactly one `sent` result and the endpoint accepted
    each (job, token) exactly once."""
    run = uuid.uuid4().hex[:8]
    names = Topics(*(f"bench.{run}.{n}" for n in ("jobs", "retry", "dlq", "delivery", "tokens")))
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for f in admin.create_topics([NewTopic(t, 1, 1) for t in vars(names).values()]).values():
        f.result(15)
    workdir = Path(tempfile.mkdtemp(prefix="nudge-bench-"))
    prefix = f"bench:{run}:"
    cluster = (
        LocalFcmCluster(fcm_processes, record_dir=workdir / "fcm", tls=tls).start() if transport != "console" else None
    )
    worker = None
    log = (workdir / "deliver.log").open("wb")
    try:
        _publish(bootstrap, redis_url, names, prefix, jobs)
        env = {
            **os.environ,
            "NUDGE_KAFKA_BOOTSTRAP": bootstrap, "NUDGE_REDIS_URL": redis_url, "NUDGE_DELIVERY_REDIS_PREFIX": prefix,
            "NUDGE_DELIVERY_RATE_PER_SECOND": str(rate_per_s), "NUDGE_DELIVERY_BURST": str(BURST),
            "NUDGE_DELIVERY_PROVIDER": "console" if transport == "console" else "fcm",
        }  # fmt: skip
        if cluster is not None:
            creds = write_service_account(workdir / "sa.json", cluster.base_url, PROJECT)
            env |= {"NUDGE_FCM_ENDPOINT": cluster.base_url, "NUDGE_FCM_CREDENTIALS_FILE": str(creds)}
            env |= {"NUDGE_FCM_PROJECT_ID": PROJECT, "NUDGE_FCM_TRANSPORT": transport}
            if cluster.ca_file:
                env["NUDGE_FCM_CA_FILE"] = cluster.ca_file
        args = [NUDGE, "deliver", "--jobs-topic", names.jobs, "--retry-topic", names.retry, "--dlq-topic", names.dlq]
        args += ["--delivery-topic", names.delivery, "--tokens-topic", names.tokens, "--group-id", f"bench-{run}"]
        args += ["--metrics-port", "0"]
        out = subprocess.DEVNULL if transport == "console" else log
        worker = subprocess.Popen(args, env=env, stdout=out, stderr=log)
        collector = _Collector(bootstrap, names.delivery, jobs, timeout_s, worker.pid, cluster.pids if cluster else [])
        collector.start()
        collector.join()
        worker.terminate()
        if worker.wait(60) != 0:
            raise BenchCheckFailed(f"delivery bench: the worker exited {worker.returncode}; log {log.name}")
        records = cluster.close() if cluster is not None else None
        cluster = None
        _check(jobs, collector.results, records)
        assert collector.first is not None and collector.last is not None
        elapsed = max(collector.last[0] - collector.first[0], 1e-9)
        counted = collector.last[1] - collector.first[1]
        worker_cpu = collector.last[2] - collector.first[2]
        endpoint_cpu = collector.last[3] - collector.first[3]
        return {
            "transport": transport,
            "jobs": jobs,
            "counted": counted,  # results after the first batch: the steady-state window
            "seconds": round(elapsed, 2),
            "per_second": round(counted / elapsed, 1),
            "worker_cpu_ms_per_notification": round(worker_cpu / counted * 1000, 4),
            "per_worker_core": round(counted / worker_cpu, 1) if worker_cpu else float("inf"),
            "worker_cores_used": round(worker_cpu / elapsed, 2),
            "endpoint_cpu_ms_per_notification": round(endpoint_cpu / counted * 1000, 4),
            "endpoint_processes": fcm_processes if transport != "console" else 0,
            "endpoint_split": "/".join(str(len(r["accepted"])) for r in records or []),
            "machine_cores": os.cpu_count() or 0,
            "rate_limit_per_second": rate_per_s,
        }
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait(10)
        log.close()
        if cluster is not None:
            cluster.close()
        with contextlib.suppress(Exception):
            redis = Redis.from_url(redis_url)
            keys = list(redis.scan_iter(f"{prefix}*", count=1000))
            for start in range(0, len(keys), 1000):
                redis.delete(*keys[start : start + 1000])
            redis.close()
        admin.delete_topics(list(vars(names).values()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("jobs", type=int, nargs="?", default=20_000)
    parser.add_argument("transport", nargs="?", default="lean", choices=["lean", "firebase-admin", "console"])
    parser.add_argument("--bootstrap", default=os.environ.get("NUDGE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--redis", default=os.environ.get("NUDGE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--endpoint-processes", type=int, default=FCM_PROCESSES)
    parser.add_argument("--plain", action="store_true", help="the endpoint in plain HTTP/1.1 mode")
    parser.add_argument(
        "--rate", type=float, default=float(os.environ.get("NUDGE_DELIVERY_RATE_PER_SECOND", RATE_PER_S))
    )
    args = parser.parse_args(argv)
    result = measure(
        args.bootstrap, args.redis, args.jobs, args.transport,
        rate_per_s=args.rate, fcm_processes=args.endpoint_processes, tls=not args.plain,
    )  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    main()
