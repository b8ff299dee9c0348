"""`nudge collect`, `nudge replay`, `nudge topics` and `nudge tail`: the ingestion edge."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import faust
from faust.cli import argument, option

from connectors.ingest.collector import create_app, serve
from connectors.ingest.errors import IngestError
from connectors.ingest.publisher import EventPublisher
from connectors.ingest.readers import FORMATS
from connectors.ingest.replay import replay as replay_file
from schemas.serde import make_serde
from streams.settings import Settings


def kafka_config(settings: Settings) -> dict[str, Any]:
    """librdkafka security settings from the one settings object."""
    config: dict[str, Any] = {"security.protocol": settings.kafka_security_protocol}
    if settings.kafka_sasl_mechanism:
        config["sasl.mechanism"] = settings.kafka_sasl_mechanism
    if settings.kafka_sasl_username:
        config["sasl.username"] = settings.kafka_sasl_username
    if settings.kafka_sasl_password:
        config["sasl.password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_ssl_cafile:
        config["ssl.ca.location"] = settings.kafka_ssl_cafile
    return config


def make_publisher(settings: Settings) -> EventPublisher:
    """The producer SDK configured from settings (not started)."""
    return EventPublisher(
        settings.kafka_bootstrap,
        topic_prefix=settings.topic_prefix,
        serde=make_serde(settings.schema_registry_url),
        config={
            **kafka_config(settings),
            "compression.type": settings.ingest_compression,
            "linger.ms": settings.ingest_linger_ms,
        },
        max_record_bytes=settings.ingest_max_record_bytes,
    )


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
        """Publish a file's events (JSONL, Taobao UserBehavior, Retailrocket) in event-time order."""
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
