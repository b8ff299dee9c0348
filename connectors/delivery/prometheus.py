"""Prometheus metrics of the delivery worker, built on a registry passed in."""

from __future__ import annotations

from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram

from schemas.dead_letters import dead_letter_counter

# Provider round trips: a local endpoint answers in ~1 ms, FCM in 50-300 ms, a stuck one in seconds.
LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LabelCache:
    """A labelled metric's children, each looked up once (`labels()` takes a lock and builds a key per call)."""

    def __init__(self, metric: Counter) -> None:
        self.metric = metric
        self.children: dict[tuple[str, ...], Counter] = {}

    def __call__(self, *labels: str) -> Counter:
        child = self.children.get(labels)
        if child is None:
            child = self.children[labels] = self.metric.labels(*labels)
        return child


class DeliveryMetrics(NamedTuple):
    sends: Counter
    retries: Counter
    fatal: Counter
    rate_limit_waits: Counter
    rate_limit_wait_seconds: Counter
    batch_latency: Histogram
    outcomes: Counter
    dead_letters: Counter


def build_metrics(registry: CollectorRegistry) -> DeliveryMetrics:
    """Create every delivery metric on `registry`."""
    return DeliveryMetrics(
        sends=Counter(
            "nudge_delivery_sends_total",
            "Device sends by provider and result",
            ["provider", "result"],
            registry=registry,
        ),
        retries=Counter(
            "nudge_delivery_retries_total", "Retries scheduled", ["provider", "error_code"], registry=registry
        ),
        fatal=Counter(
            "nudge_delivery_fatal_errors_total",
            "Never-retried errors (alert on these)",
            ["provider", "error_code"],
            registry=registry,
        ),
        rate_limit_waits=Counter(
            "nudge_delivery_rate_limit_waits_total",
            "Times the global limit made us wait",
            ["provider"],
            registry=registry,
        ),
        rate_limit_wait_seconds=Counter(
            "nudge_delivery_rate_limit_wait_seconds_total", "Time spent waiting", ["provider"], registry=registry
        ),
        batch_latency=Histogram(
            "nudge_delivery_batch_seconds",
            "Provider send_batch latency",
            ["provider"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        outcomes=Counter("nudge_delivery_results_total", "DeliveryResults by status", ["status"], registry=registry),
        dead_letters=dead_letter_counter(registry),  # the stream side's metric and reasons
    )
