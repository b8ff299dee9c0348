"""Every Prometheus metric of the stream worker, built against one registry."""

from __future__ import annotations

from typing import NamedTuple

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.validation import dead_letter_counter

# Event -> job latency inside the worker: batching alone costs up to the batch window (50 ms by
# default), the target is p99 <= 50 ms, so buckets are dense from 1 ms to 100 ms and sparse beyond
# (seconds mean a backlog or a stalled broker, where only the order of magnitude matters).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Per-user state values: a fresh user is ~100 B, a busy one with deferred jobs and a profile a few KB;
# tens of KB means the state bounds are not working.
STATE_BYTES_BUCKETS = (128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536, 262144)


class PipelineMetrics(NamedTuple):
    """The stream worker's metrics; `build(registry)` creates them."""

    events_in: Counter
    dead_letters: Counter
    late_events: Counter
    firings: Counter
    decisions: Counter
    jobs_out: Counter
    event_to_job: Histogram
    consumer_lag: Gauge
    timer_index: Gauge
    state_bytes: Histogram
    attribution_counts: Counter
    trigger_metrics_out: Counter
    attribution_events: Counter
    checkpoint_seconds: Histogram

    @classmethod
    def build(cls, registry: CollectorRegistry) -> PipelineMetrics:
        return cls(
            events_in=Counter("nudge_stream_events_in_total", "Input messages read", ["topic"], registry=registry),
            dead_letters=dead_letter_counter(registry),
            late_events=Counter(
                "nudge_engine_late_events_total", "Events older than their partition's stream time", registry=registry
            ),
            firings=Counter("nudge_engine_firings_total", "Trigger firings", ["trigger", "kind"], registry=registry),
            decisions=Counter("nudge_decisions_total", "Decisions written", ["outcome", "reason"], registry=registry),
            jobs_out=Counter("nudge_stream_jobs_out_total", "Notification jobs produced", registry=registry),
            event_to_job=Histogram(
                "nudge_event_to_job_seconds",
                "Wall time from reading an input message to its job being acknowledged by the broker",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            consumer_lag=Gauge(
                "nudge_consumer_lag_messages",
                "Highwater minus committed offset per input partition",
                ["topic", "partition"],
                registry=registry,
            ),
            timer_index=Gauge(
                "nudge_timer_index_users", "Users with a pending timer per partition", ["partition"], registry=registry
            ),
            state_bytes=Histogram(
                "nudge_state_value_bytes",
                "Size of per-user state values written to the table",
                buckets=STATE_BYTES_BUCKETS,
                registry=registry,
            ),
            attribution_counts=Counter(
                "nudge_attribution_counts_total", "Funnel counts attributed", ["name"], registry=registry
            ),
            trigger_metrics_out=Counter(
                "nudge_trigger_metrics_out_total", "TriggerMetrics records published", registry=registry
            ),
            attribution_events=Counter(
                "nudge_attribution_events_forwarded_total",
                "Behaviour events re-keyed to attribution (feedback with a job id, events of watched users)",
                registry=registry,
            ),
            checkpoint_seconds=Histogram(
                "nudge_checkpoint_seconds",
                "Time a commit's checkpoint took (outputs confirmed, state sent and stored; exactly-once: and the "
                "transaction committed), during which no batch is processed",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
        )
