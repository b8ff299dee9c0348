"""`nudge collect`, `nudge replay`, `nudge topics` and `nudge tail`: the ingestion edge."""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Any

import click
import faust
from confluent_kafka import KafkaException
from faust.cli import argument, option

from connectors.ingest.collector import create_app, serve
from connectors.ingest.errors import IngestError
from connectors.ingest.publisher import EventPublisher
from connectors.ingest.readers import FORMATS
from connectors.ingest.replay import replay as replay_file
from connectors.ingest.tail import tail as tail_topic
from connectors.ingest.topics_spec import apply_topics, default_specs
from schemas import records
from schemas import topics as names
from schemas.serde import RegistrySerde, make_serde
from streams.commands.kafka_security import librdkafka_config
from streams.settings import Settings


def make_publisher(settings: Settings) -> EventPublisher:
    """The producer SDK configured from settings (not started)."""
    return EventPublisher(
        settings.kafka_bootstrap,
        topic_prefix=settings.topic_prefix,
        serde=make_serde(settings.schema_registry_url),
        config={
            **librdkafka_config(settings),
            "compression.type": settings.ingest_compression,
            "linger.ms": settings.ingest_linger_ms,
            "queue.buffering.max.messages": settings.ingest_queue_max_messages,
        },
        max_record_bytes=settings.ingest_max_record_bytes,
    )


# What each topic carries, for decoders that need the type up front (Schema Registry mode).
TOPIC_TYPES: dict[str, type] = {
    names.BEHAVIOR_EVENTS: records.BehaviorEvent,
    names.USER_PROFILES: records.UserProfile,
    names.DEVICE_TOKENS: records.DeviceToken,
    names.CATALOG_UPDATES: records.CatalogItem,
    names.NOTIFICATION_JOBS: records.NotificationJob,
    names.NOTIFICATION_DECISIONS: records.NotificationDecision,
    names.NOTIFICATION_DELIVERY: records.DeliveryResult,
    names.JOBS_RETRY: records.JobRetry,
    names.JOBS_DLQ: records.JobRetry,
}


def tail_decoder(settings: Settings) -> Any:
    """None (self-describing single-object records) or a registry decoder that infers the type from the topic."""
    if not settings.schema_registry_url:
        return None
    serde = RegistrySerde(settings.schema_registry_url)

    def decode(data: bytes, topic: str) -> Any:
        name = topic.removeprefix(settings.topic_prefix)
        cls = records.DeadLetter if name.endswith(names.DLQ_SUFFIX) and name != names.JOBS_DLQ else TOPIC_TYPES[name]
        return serde.decode(data, topic, cls)

    return decode


def api_keys(settings: Settings) -> list[str]:
    """The collector's bearer keys; refusing to start without one."""
    raw = settings.collector_api_keys.get_secret_value() if settings.collector_api_keys else ""
    keys = [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise SystemExit("NUDGE_COLLECTOR_API_KEYS is empty: set at least one bearer key for the collector")
    return keys


def register(app: faust.App, settings: Settings) -> None:
    """Add the ingestion commands."""

    @app.command(
        option("--host", default=settings.collector_host, help="Address to bind (default from settings)."),
        option("--port", type=int, default=settings.collector_port, help="Port to listen on."),
    )
    async def collect(self: object, host: str, port: int) -> None:
        """Run the HTTP collector: POST /v1/events, /v1/profiles, /v1/devices; GET /health, /metrics."""
        web_app = create_app(
            make_publisher(settings),
            api_keys=api_keys(settings),
            max_body_bytes=settings.collector_max_body_bytes,
            max_batch=settings.collector_max_batch,
            queue_wait_s=settings.collector_queue_wait_ms / 1000,
        )
        print(f"collector listening on http://{host}:{port}")
        await serve(web_app, host, port)

    @app.command(
        argument("path"),
        option("--format", "fmt", default="auto", help=f"auto (default) or one of {', '.join(FORMATS)}."),
        option("--speed", type=float, default=0.0, help="N: N times faster than real time; 0 (default): full speed."),
        option("--limit", type=int, default=None, help="Read at most N data rows."),
    )
    async def replay(self: object, path: str, fmt: str, speed: float, limit: int | None) -> None:
        """Publish a file's events (JSONL, Taobao UserBehavior, Retailrocket) to Kafka in event-time order.

        They go to NUDGE_TOPIC_PREFIX + behavior.events on NUDGE_KAFKA_BOOTSTRAP, keyed by user id. The whole
        file is read, validated and sorted by event time in memory before the first send (exact order; about
        650 bytes per Taobao row, so 10 million rows need ~6.5 GB): split a bigger file by time first.
        Rejected rows are counted and the first ones quoted. The bar shows records queued per second, its
        last figure (and the summary) those Kafka acknowledged.
        """
        if fmt != "auto" and fmt not in FORMATS:
            raise SystemExit(f"--format must be auto or one of {', '.join(FORMATS)}")
        if not Path(path).is_file():
            raise SystemExit(f"{path}: no such file")
        publisher = make_publisher(settings).start()
        try:
            report = replay_file(Path(path), publisher, fmt=fmt, speed=speed or None, limit=limit, progress=sys.stderr)
        except IngestError as exc:
            raise SystemExit(f"replay failed: {exc}") from exc
        finally:
            publisher.close()
        print(report.summary(), file=sys.stderr)

    @app.command(
        argument("action", type=click.Choice(["apply", "plan"])),
        option(
            "--replication-factor", type=int, default=-1, help="For new topics; -1 (default): the broker's default."
        ),
    )
    async def topics(self: object, action: str, replication_factor: int) -> None:
        """Create/update every Nudge topic from the spec (`apply`), or show what would change (`plan`)."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({**librdkafka_config(settings), "bootstrap.servers": settings.kafka_bootstrap})
        try:
            report = apply_topics(
                admin,
                default_specs(settings.topic_partitions),
                prefix=settings.topic_prefix,
                replication_factor=replication_factor,
                dry_run=action == "plan",
            )
        except IngestError as exc:
            raise SystemExit(str(exc)) from exc
        for line in report.lines(planned=action == "plan"):
            print(line)

    @app.command(
        argument("topic"),
        option(
            "--from-beginning", is_flag=True, default=False, help="Start at the oldest message (default: new only)."
        ),
        option("--max", "max_messages", type=click.IntRange(min=1), default=None, help="Stop after N messages."),
        option("--to-end", is_flag=True, default=False,
               help="Stop at the end the topic has now (with --from-beginning: print what is there, then exit)."),
        option("--idle-timeout", type=click.FloatRange(min=0), default=None, help="Stop after S seconds without one."),
    )  # fmt: skip
    async def tail(
        self: object,
        topic: str,
        from_beginning: bool,
        max_messages: int | None,
        to_end: bool,
        idle_timeout: float | None,
    ) -> None:
        """Print a topic as JSON lines (records decoded, bytes as base64); TOPIC may leave out NUDGE_TOPIC_PREFIX."""
        config = {**librdkafka_config(settings), "bootstrap.servers": settings.kafka_bootstrap}
        name = topic if topic.startswith(settings.topic_prefix) else settings.topic_prefix + topic
        stop = threading.Event()  # set when the command is stopped (SIGTERM): the reading thread ends at once
        try:
            await asyncio.get_running_loop().run_in_executor(
                None,
                lambda: tail_topic(config, name, sys.stdout, from_beginning=from_beginning, max_messages=max_messages,
                                   idle_timeout_s=idle_timeout, to_end=to_end, decode=tail_decoder(settings),
                                   stop=stop, note=lambda text: print(f"nudge tail: {text}", file=sys.stderr)),
            )  # fmt: skip
        except KafkaException as exc:
            raise SystemExit(f"nudge tail: {exc.args[0].str() if exc.args else exc}") from None
        finally:
            stop.set()
