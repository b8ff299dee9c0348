"""The stream worker's web views: /metrics (Prometheus), /health and /ready (tables recovered; caught up)."""

from __future__ import annotations

import contextlib
import logging

import faust
from faust.web import Request, Response, View
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from streams.pipeline.catch_up import caught_up
from streams.pipeline.prometheus import PipelineMetrics

log = logging.getLogger(__name__)


def is_ready(app: faust.App) -> bool:
    """Tables recovered and streams resumed: Faust sets recovery.completed then, and in_recovery while restoring."""
    recovery = app.tables.recovery
    return recovery.completed.is_set() and not app.in_recovery and not app.rebalancing


def update_lag(app: faust.App, metrics: PipelineMetrics, sources: set[str]) -> None:
    """Consumer lag per assigned input partition: the highwater the fetcher saw minus the committed offset."""
    consumer = app.consumer
    with contextlib.suppress(Exception):  # no consumer yet / mid-rebalance: keep the last values
        for tp in consumer.assignment():
            if tp.topic not in sources:
                continue
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            committed = consumer._committed_offset.get(tp)  # faust's own view, updated on every commit
            lag = highwater - (committed or 0)
            metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(max(lag, 0))


def install_web(app: faust.App, registry: CollectorRegistry, metrics: PipelineMetrics, *, names: set[str]) -> None:
    """Register /metrics, /health and /ready on the worker's web server."""

    @app.page("/metrics")
    class Metrics(View):
        async def get(self, request: Request) -> Response:
            update_lag(app, metrics, names)
            body = generate_latest(registry) + generate_latest(REGISTRY)
            return self.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            # The web server runs on the worker's event loop: answering at all means the loop runs.
            return self.json({"status": "ok"})

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            ready = is_ready(app)
            body: dict[str, bool] = {"ready": ready}
            if (done := caught_up(app)) is not None:  # replay mode: every input committed to its end offset
                body["caught_up"] = done
            return self.json(body, status=200 if ready else 503)
