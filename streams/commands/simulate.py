"""`nudge simulate`: publish simulated users, catalogue and reactions to pushes in accelerated event time."""

from __future__ import annotations

import signal
import time

import faust
from faust.cli import option

from connectors.ingest.publisher import EventPublisher
from connectors.simulator.errors import BadConfigError
from connectors.simulator.personas import DAY_MS
from connectors.simulator.reaction import ReactionModel
from connectors.simulator.runner import SimulatorRunner
from connectors.simulator.world import SimConfig, World
from schemas.topics import NOTIFICATION_DELIVERY, prefixed
from streams.settings import Settings


def parse_effects(text: str) -> dict[str, float]:
    """'urgent=1.6,morning=1.2' -> {'urgent': 1.6, 'morning': 1.2}."""
    effects: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            effects[name.strip()] = float(value)
        except ValueError:
            raise BadConfigError(f"--variant-effects: {part!r} is not NAME=FACTOR") from None
        if not sep or effects[name.strip()] <= 0:
            raise BadConfigError(f"--variant-effects: {part!r} is not NAME=FACTOR with FACTOR > 0")
    return effects


def default_start_ms(days: float, now_ms: int | None = None) -> int:
    """Start `days` before today's midnight UTC: the run ends in the past, and one day's runs line up."""
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return now_ms - now_ms % DAY_MS - int(days * DAY_MS)


def register(app: faust.App, settings: Settings) -> None:
    """Add `nudge simulate`."""

    @app.command(
        option("--users", type=int, default=2000, show_default=True, help="simulated users"),
        option("--days", type=float, default=3.0, show_default=True, help="days of event time to simulate"),
        option("--duration", type=float, default=90.0, show_default=True, help="wall seconds the days take"),
        option("--seed", type=int, default=7, show_default=True, help="random seed: same seed, same users"),
        option(
            "--start-ms", type=int, default=None, help="event time of the start (default: DAYS before today 00:00Z)"
        ),
        option(
            "--variant-effects", default="urgent=1.6", show_default=True, help="NAME=FACTOR,... on open/convert rates"
        ),
        option(
            "--linger", type=float, default=10.0, show_default=True, help="wall seconds to keep reacting after the end"
        ),
        option("--bootstrap", default=settings.kafka_bootstrap, help="Kafka bootstrap servers"),
    )
    async def simulate(
        self: object,
        users: int,
        days: float,
        duration: float,
        seed: int,
        start_ms: int | None,
        variant_effects: str,
        linger: float,
        bootstrap: str,
    ) -> None:
        """Simulate users (personas over DAYS in DURATION seconds) who react to the pushes they get."""
        try:
            config = SimConfig(
                users=users,
                days=days,
                seed=seed,
                start_ms=default_start_ms(days) if start_ms is None else start_ms,
                reactions=ReactionModel(variant_effects=parse_effects(variant_effects)),
            )
        except BadConfigError as exc:
            raise SystemExit(f"nudge simulate: {exc}") from None
        if duration <= 0:
            raise SystemExit("nudge simulate: --duration must be > 0")
        publisher = EventPublisher(bootstrap, topic_prefix=settings.topic_prefix)
        runner = SimulatorRunner(
            World(config),
            publisher,
            bootstrap=bootstrap,
            delivery_topic=prefixed(settings.topic_prefix, NOTIFICATION_DELIVERY),
            duration_s=duration,
            linger_s=linger,
        )
        print(
            f"simulating {users} users over {days:g} days of event time from {config.start_ms} in {duration:g} s "
            f"(1 s = {runner.speed / 60:.0f} simulated minutes), seed {seed}"
        )
        previous = signal.signal(signal.SIGINT, lambda *_: runner.stop())
        try:
            runner.start()
            stats = runner.run()
        finally:
            signal.signal(signal.SIGINT, previous)
            runner.close()
        print(f"published {stats.published} records, {stats.pushes} pushes answered, {stats.rejected} rejected")
