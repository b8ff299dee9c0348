"""`nudge bench`: the stream worker, its peers and the limit side by side, plus latency, recovery and delivery."""

from __future__ import annotations

import asyncio

import faust
from faust.cli import option

from streams.bench import runner
from streams.commands.bench_delivery import delivery_results
from streams.settings import Settings


def register(app: faust.App, settings: Settings) -> None:
    """Add `nudge bench`."""

    @app.command(
        option("--events", default=300_000, show_default=True, help="events in the shared input"),
        option("--users", default=50_000, show_default=True),
        option("--repeats", default=3, show_default=True, help="runs per throughput entry (median)"),
        option("--partitions", default=4, show_default=True),
        option("--peer-events", default=30_000, show_default=True, help="events the slow entries are timed over"),
        option("--latency-seconds", default=5.0, show_default=True, help="seconds at each fixed input rate"),
        option("--tick-users", default=1_000_000, show_default=True),
        option("--out", default="BENCHMARKS.md", show_default=True),
        option("--json", "json_path", default="bench-results/bench.json", show_default=True),
    )
    async def bench(
        self: object,
        events: int,
        users: int,
        repeats: int,
        partitions: int,
        peer_events: int,
        latency_seconds: float,
        tick_users: int,
        out: str,
        json_path: str,
    ) -> None:
        """Measure Nudge against raw consumers and Faust peers on one broker; write BENCHMARKS.md and JSON."""
        bootstrap = settings.kafka_bootstrap
        redis_url = settings.redis_url.get_secret_value()
        argv = [
            f"--bootstrap={bootstrap}", f"--events={events}", f"--users={users}", f"--repeats={repeats}",
            f"--partitions={partitions}", f"--peer-events={peer_events}", f"--latency-seconds={latency_seconds}",
            f"--tick-users={tick_users}", f"--out={out}", f"--json={json_path}",
        ]  # fmt: skip
        reports = {
            "delivery: one worker, lean and firebase-admin FCM transports": lambda: delivery_results(
                bootstrap, redis_url
            )
        }
        # The runner starts its own event loops (aiokafka): keep them off this one.
        await asyncio.to_thread(runner.main, argv, None, reports)
