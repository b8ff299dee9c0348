"""The delivery figures of `nudge bench`: one worker with the lean FCM transport and with firebase-admin's own path."""

from __future__ import annotations

import statistics

from streams.bench.runner import Figure

LEAN_JOBS = 40_000  # ~8 s at the worker's rate: long enough to be steady, short enough for five runs
LEAN_RUNS = 5  # the median: a shared machine moves single runs by 10-20%
FIREBASE_ADMIN_JOBS = 2_000  # ~1.5-3 ms of CPU each: a few seconds


def delivery_results(bootstrap: str, redis_url: str) -> list[Figure]:
    """Measure both FCM transports against the local HTTPS/h2 endpoint (connectors/delivery/bench.py)."""
    from connectors.delivery.bench import measure

    lean = [measure(bootstrap, redis_url, LEAN_JOBS, "lean") for _ in range(LEAN_RUNS)]
    admin = measure(bootstrap, redis_url, FIREBASE_ADMIN_JOBS, "firebase-admin")

    def runs(key: str, figures: list[dict] = lean) -> list[float]:
        return [float(f[key]) for f in figures]

    cores, endpoint = (
        statistics.median(runs("worker_cores_used")),
        statistics.median(runs("endpoint_cpu_ms_per_notification")),
    )
    machine = int(lean[0]["machine_cores"])
    where = (
        f"worker process alone (libcurl thread included); the endpoint ({lean[0]['endpoint_processes']} granian "
        f"processes, {endpoint:.3f} ms CPU/notification) measured apart"
    )
    ratio = statistics.median(runs("worker_cpu_ms_per_notification"))
    admin_ms = float(admin["worker_cpu_ms_per_notification"])
    return [
        Figure("delivery CPU per notification, lean FCM transport (HTTPS/h2)", "delivery", "ms",
               runs("worker_cpu_ms_per_notification"), where),
        Figure("delivery per worker core, lean FCM transport", "delivery", "notifications/s",
               runs("per_worker_core"), "notifications per CPU-second of the worker process"),
        Figure("delivery, one worker, lean FCM transport (HTTPS/h2)", "delivery", "notifications/s", runs("per_second"),
               f"{LEAN_JOBS:,} jobs, global limit 10k/s; the worker used {cores:.2f} cores of this {machine}-core "
               f"machine, which the endpoint and Kafka share"),
        Figure("delivery CPU per notification, firebase-admin send_each_async (HTTPS/h2)", "delivery", "ms",
               [admin_ms], f"{FIREBASE_ADMIN_JOBS:,} jobs, same run; {admin_ms / ratio:.0f}x the lean transport"),
        Figure("delivery, one worker, firebase-admin send_each_async (HTTPS/h2)", "delivery", "notifications/s",
               [float(admin["per_second"])], f"worker used {float(admin['worker_cores_used']):.2f} cores"),
    ]  # fmt: skip
