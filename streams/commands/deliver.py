"""`nudge deliver` (the delivery worker) and `nudge fcm-local` (the local FCM-compatible endpoint)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import uuid
from pathlib import Path

import faust
from faust.cli import option
from prometheus_client import CollectorRegistry

from connectors.delivery.errors import ProviderConfigError
from connectors.delivery.http import start_http
from connectors.delivery.pipeline import Deliverer, RetryPolicy
from connectors.delivery.prometheus import build_metrics
from connectors.delivery.providers.base import Provider
from connectors.delivery.providers.console import ConsoleProvider
from connectors.delivery.providers.fcm import FcmProvider
from connectors.delivery.providers.fcm_lean import LeanFcmProvider
from connectors.delivery.providers.webhook import WebhookProvider
from connectors.delivery.worker import DeliveryWorker, Topics
from connectors.fcm_local.credentials import write_service_account
from connectors.fcm_local.server import LocalFcm
from connectors.stores.idempotency import IdempotencyStore
from connectors.stores.ratelimit import RateLimiter
from connectors.stores.redis_client import redis_client
from connectors.stores.tokens import TokenStore
from schemas import topics
from streams.commands.kafka_security import aiokafka_options
from streams.settings import Settings

log = logging.getLogger(__name__)
# Test-only crash point: exit right after the provider accepted a batch (see tests/integration/delivery).
CRASH_AFTER_SEND_ENV = "NUDGE_TEST_CRASH_AFTER_SEND"


def build_provider(settings: Settings) -> Provider:
    """The configured provider; credentials are passed as values and never logged."""
    if settings.delivery_provider == "console":
        return ConsoleProvider()
    if settings.delivery_provider == "webhook":
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        return WebhookProvider(settings.webhook_url or "", secret)
    creds = settings.fcm_credentials_file or os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if settings.fcm_transport == "firebase-admin":
        return FcmProvider(settings.fcm_project_id, creds, settings.fcm_endpoint, ca_file=settings.fcm_ca_file)
    return LeanFcmProvider(
        settings.fcm_project_id,
        creds,
        settings.fcm_endpoint,
        ca_file=settings.fcm_ca_file,
        connections=settings.fcm_connections,
    )


async def run_worker(settings: Settings, topic_names: Topics, group_id: str, metrics_port: int) -> None:
    """Wire stores, provider and consumers; run until SIGTERM/SIGINT, then drain and close."""
    redis = redis_client(settings.redis_url.get_secret_value())
    prefix = settings.delivery_redis_prefix
    provider = build_provider(settings)
    registry = CollectorRegistry()
    metrics = build_metrics(registry)
    tokens = TokenStore(redis, prefix)
    deliverer = Deliverer(
        provider,
        tokens,
        IdempotencyStore(redis, owner=f"{os.getpid()}-{uuid.uuid4().hex[:8]}", prefix=prefix),
        RateLimiter(redis, provider.name, settings.delivery_rate_per_second, settings.delivery_burst, prefix),
        metrics,
        RetryPolicy(
            max_attempts=settings.delivery_max_attempts,
            base_ms=settings.delivery_backoff_base_ms,
            cap_ms=settings.delivery_backoff_max_ms,
            max_window_ms=settings.delivery_max_retry_window_s * 1000,
        ),
        crash_after_send=os.environ.get(CRASH_AFTER_SEND_ENV) == "1",
        replay=settings.replay,
    )
    worker = DeliveryWorker(
        settings.kafka_bootstrap,
        group_id,
        topic_names,
        deliverer,
        tokens,
        batch_size=settings.delivery_batch_size,
        kafka_options=aiokafka_options(settings),
        dead_letters=metrics.dead_letters,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
    await provider.start()
    http = await start_http(registry, lambda: worker.ready, metrics_port, settings.delivery_metrics_host)
    log.info("delivery worker: provider=%s group=%s jobs=%s", provider.name, group_id, topic_names.jobs)
    try:
        await worker.run()
    finally:
        await http.cleanup()
        await provider.close()
        await redis.aclose()


async def run_fcm_local(
    host: str, port: int, project: str, credentials_out: str | None, ca_out: str | None = None, *, tls: bool = True
) -> None:
    """Serve the local FCM endpoint until SIGTERM/SIGINT."""
    server = LocalFcm(host, port, tls=tls, cert_dir=Path(ca_out).parent if ca_out else None)
    await server.start()
    if ca_out and server.ca_file and Path(server.ca_file) != Path(ca_out):
        Path(ca_out).write_bytes(Path(server.ca_file).read_bytes())
    if credentials_out:  # after the CA: a reader that sees the credentials file finds the CA too
        write_service_account(credentials_out, server.base_url, project)
    trust = f", CA {ca_out or server.ca_file}" if server.ca_file else ""
    print(f"local FCM endpoint on {server.base_url} (project {project}{trust})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()


def register(app: faust.App, settings: Settings) -> None:
    """Add `deliver` and `fcm-local` to the `nudge` CLI."""
    p = settings.topic_prefix

    @app.command(
        option("--jobs-topic", default=p + topics.NOTIFICATION_JOBS, help="topic of NotificationJob"),
        option("--retry-topic", default=p + topics.JOBS_RETRY, help="topic of scheduled retries"),
        option("--dlq-topic", default=p + topics.JOBS_DLQ, help="topic of given-up jobs and bad records"),
        option("--delivery-topic", default=p + topics.NOTIFICATION_DELIVERY, help="topic of DeliveryResult"),
        option("--tokens-topic", default=p + topics.DEVICE_TOKENS, help="topic of DeviceToken"),
        option("--group-id", default=settings.delivery_group_id, help="consumer group"),
        option("--metrics-port", default=settings.delivery_metrics_port, type=int, help="/metrics /health /ready"),
    )
    async def deliver(
        self: object,
        jobs_topic: str,
        retry_topic: str,
        dlq_topic: str,
        delivery_topic: str,
        tokens_topic: str,
        group_id: str,
        metrics_port: int,
    ) -> None:
        """Send notification jobs through the configured provider."""
        names = Topics(jobs_topic, retry_topic, dlq_topic, delivery_topic, tokens_topic)
        try:
            await run_worker(settings, names, group_id, metrics_port)
        except ProviderConfigError as exc:
            raise SystemExit(f"nudge deliver: {exc}") from exc

    @app.command(
        option("--host", default="127.0.0.1", help="address to bind"),
        option("--port", default=9099, type=int, help="port to listen on"),
        option("--project", default="nudge-local", help="FCM project id"),
        option("--write-credentials", default=None, help="write a local service-account file here"),
        option("--write-ca", default=None, help="write the CA certificate clients must trust here (HTTPS)"),
        option("--plain", is_flag=True, default=False, help="plain HTTP/1.1 instead of HTTPS with HTTP/2"),
        name="fcm-local",
    )
    async def fcm_local(
        self: object,
        host: str,
        port: int,
        project: str,
        write_credentials: str | None,
        write_ca: str | None,
        plain: bool,
    ) -> None:
        """Run the local FCM-compatible endpoint (dev, CI, demos): HTTPS with HTTP/2 unless --plain."""
        await run_fcm_local(host, port, project, write_credentials, write_ca, tls=not plain)
