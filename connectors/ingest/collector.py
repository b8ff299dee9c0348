"""The HTTP collector: JSON batches of events, profiles and devices in, validated Avro records on Kafka out."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, NamedTuple

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from connectors.ingest.errors import InvalidRecordError, PublishError
from connectors.ingest.publisher import EventPublisher
from schemas.codec import from_json
from schemas.errors import ValidationError
from schemas.records import BehaviorEvent, DeviceToken, UserProfile

log = logging.getLogger(__name__)

# route name -> (record class, key of the batch in an object body)
ROUTES: dict[str, tuple[type, str]] = {
    "/v1/events": (BehaviorEvent, "events"),
    "/v1/profiles": (UserProfile, "profiles"),
    "/v1/devices": (DeviceToken, "devices"),
}
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
DEFAULT_MAX_BATCH = 500
# Delivery reports are served off the request path; this is how stale a failure count may get.
POLL_INTERVAL_S = 0.1
# How long a batch may wait for room in a full producer queue (Kafka slow or down) before the answer is 503.
DEFAULT_QUEUE_WAIT_S = 1.0
# While it waits, how often it looks again: acknowledged records free room at the broker's pace.
ROOM_CHECK_S = 0.02
# Told to a client that got a 503: the queue drains at the broker's pace, so retry after a second, not at once.
RETRY_AFTER_S = 1
QUEUE_FULL = "the producer queue is full (Kafka is slow or unreachable): retry later"

PUBLISHER_KEY = web.AppKey("publisher", EventPublisher)
METRICS_KEY = web.AppKey("metrics", object)


class CollectorMetrics(NamedTuple):
    requests: Counter
    items: Counter
    delivery_failures: Counter
    latency: Histogram
    queued: Gauge
    registry: CollectorRegistry


def build_metrics(registry: CollectorRegistry) -> CollectorMetrics:
    """The collector's metrics, registered in `registry`."""
    return CollectorMetrics(
        Counter(
            "nudge_collector_requests_total",
            "HTTP requests by route and status",
            ["route", "status"],
            registry=registry,
        ),
        Counter(
            "nudge_collector_items_total", "Batch items by route and outcome", ["route", "outcome"], registry=registry
        ),
        Counter("nudge_collector_delivery_failures_total", "Records Kafka did not accept", registry=registry),
        # Requests only validate and enqueue: expect low milliseconds; the upper buckets catch a full producer queue.
        Histogram(
            "nudge_collector_request_seconds",
            "Time to validate and enqueue one batch",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=registry,
        ),
        Gauge("nudge_collector_queued_records", "Accepted records Kafka has not acknowledged yet", registry=registry),
        registry,
    )


def _authorized(header: str | None, keys: Sequence[bytes]) -> bool:
    if not header or not header.startswith("Bearer "):
        return False
    given = header[len("Bearer ") :].strip().encode()
    ok = False
    for key in keys:  # compare with every key so timing does not reveal which one (or whether any) matched
        ok |= hmac.compare_digest(given, key)
    return ok


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def create_app(
    publisher: EventPublisher,
    *,
    api_keys: Sequence[str],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    queue_wait_s: float = DEFAULT_QUEUE_WAIT_S,
    registry: CollectorRegistry | None = None,
) -> web.Application:
    """The collector app; the publisher is started on startup and flushed on shutdown."""
    if not api_keys:
        raise ValueError("the collector needs at least one API key")
    if publisher.capacity < max_batch:
        raise ValueError(f"a producer queue of {publisher.capacity} records never holds a batch of {max_batch}")
    keys = [k.encode() for k in api_keys]
    metrics = build_metrics(registry or CollectorRegistry())
    app = web.Application(client_max_size=max_body_bytes)
    app[PUBLISHER_KEY] = publisher
    app[METRICS_KEY] = metrics

    async def ingest(request: web.Request) -> web.Response:
        route = request.path
        cls, batch_key = ROUTES[route]
        started = time.perf_counter()
        response = await _ingest(request, cls, batch_key)
        metrics.requests.labels(route, str(response.status)).inc()
        metrics.latency.labels(route).observe(time.perf_counter() - started)
        return response

    async def _ingest(request: web.Request, cls: type, batch_key: str) -> web.Response:
        if not _authorized(request.headers.get("Authorization"), keys):
            return _error(401, "missing or unknown API key (Authorization: Bearer <key>)")
        if request.content_length is not None and request.content_length > max_body_bytes:
            return _error(413, f"request body over {max_body_bytes} bytes")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"request body over {max_body_bytes} bytes")
        try:
            payload = json.loads(body)
        except ValueError as exc:
            return _error(400, f"body is not JSON: {exc}")
        except RecursionError:  # thousands of nested brackets: refuse, do not fail the request with a 500
            return _error(400, "body is not JSON we accept: nested too deeply")
        items = payload.get(batch_key) if isinstance(payload, dict) else payload
        if not isinstance(items, list) or not items:
            return _error(400, f'expected a non-empty JSON array, or {{"{batch_key}": [...]}}')
        if len(items) > max_batch:
            return _error(400, f"batch of {len(items)} items is over the limit of {max_batch}")
        errors: list[dict[str, Any]] = []
        checked: list[tuple[int, tuple[str, str, bytes]]] = []
        for index, item in enumerate(items):
            try:
                checked.append((index, publisher.check(from_json(cls, item))))
            except (ValidationError, InvalidRecordError) as exc:
                errors.append({"index": index, "error": str(exc), "kind": exc.kind})
            except RecursionError:
                errors.append({"index": index, "error": "item nested too deeply", "kind": "too_deep"})
        accepted = await _enqueue(publisher, [record for _, record in checked], queue_wait_s)
        metrics.items.labels(request.path, "accepted").inc(accepted)
        metrics.items.labels(request.path, "rejected").inc(len(errors))
        metrics.items.labels(request.path, "queue_full").inc(len(checked) - accepted)
        errors += [{"index": index, "error": QUEUE_FULL, "kind": "queue_full"} for index, _ in checked[accepted:]]
        errors.sort(key=lambda e: e["index"])
        body_out = {"accepted": accepted, "rejected": len(errors), "errors": errors}
        if accepted == len(checked):
            return web.json_response(body_out, status=202 if accepted else 400)
        retry = {"Retry-After": str(RETRY_AFTER_S)}  # the items of kind queue_full can be sent again
        return web.json_response(body_out, status=202 if accepted else 503, headers=retry)

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics_view(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def publisher_lifecycle(_app: web.Application) -> AsyncIterator[None]:
        publisher.start()
        poller = asyncio.create_task(_serve_delivery_reports(publisher, metrics))
        yield
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        try:
            await asyncio.get_running_loop().run_in_executor(None, publisher.close)
        except PublishError as exc:  # the process is stopping: report, do not mask the shutdown
            metrics.delivery_failures.inc(len(exc.failures))
            log.error("collector stopped with undelivered records: %s", exc)

    for path in ROUTES:
        app.router.add_post(path, ingest)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_view)
    app.cleanup_ctx.append(publisher_lifecycle)
    return app


async def _enqueue(publisher: EventPublisher, records: list[tuple[str, str, bytes]], wait_s: float) -> int:
    """Queue `records` in order without blocking the event loop; how many were queued before `wait_s` ran out.

    A batch waits until the queue has room for all of it, so a 503 queued nothing and its retry duplicates nothing;
    only a queue full by bytes (`queue.buffering.max.kbytes`) can stop a batch part way.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while publisher.room() < len(records):
        if loop.time() >= deadline:
            return 0
        publisher.poll(0)  # acknowledged records make room
        await asyncio.sleep(ROOM_CHECK_S)
    for done, (topic, key, value) in enumerate(records):
        while not publisher.try_produce(topic, key, value):
            if loop.time() >= deadline:
                return done
            publisher.poll(0)
            await asyncio.sleep(ROOM_CHECK_S)
    return len(records)


async def _serve_delivery_reports(publisher: EventPublisher, metrics: CollectorMetrics) -> None:
    seen = 0
    while True:
        publisher.poll(0)
        metrics.queued.set(publisher.queued())
        if publisher.failed > seen:
            metrics.delivery_failures.inc(publisher.failed - seen)
            seen = publisher.failed
        if len(publisher.failures) > 50:  # details are for logs; the counter is what operators watch
            publisher.failures.clear()
        await asyncio.sleep(POLL_INTERVAL_S)


async def serve(app: web.Application, host: str, port: int) -> None:
    """Run the collector until cancelled."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
