"""`nudge report`: engagement metrics per trigger and variant, in the terminal and as an HTML page."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from confluent_kafka import KafkaException
from faust.cli import option

from connectors.ingest.topic_reader import is_missing_topic, read_records
from schemas import topics
from schemas.records import BehaviorEvent, DeliveryResult, NotificationDecision, NotificationJob, TriggerMetrics
from streams.analytics.attribution import AnalyticsConfig
from streams.analytics.html import html_report
from streams.analytics.report import ReportData, build_report, text_report
from streams.commands.kafka_security import librdkafka_config
from streams.settings import Settings


@dataclass(frozen=True)
class ReportTopics:
    """Where the report reads from."""

    decisions: str
    delivery: str
    events: str
    metrics: str
    jobs: str = ""  # the rendered pushes, for "What users received" (none: that section is left out)

    @classmethod
    def named(cls, prefix: str = "") -> ReportTopics:
        return cls(
            decisions=topics.prefixed(prefix, topics.NOTIFICATION_DECISIONS),
            delivery=topics.prefixed(prefix, topics.NOTIFICATION_DELIVERY),
            events=topics.prefixed(prefix, topics.BEHAVIOR_EVENTS),
            metrics=topics.prefixed(prefix, topics.TRIGGER_METRICS),
            jobs=topics.prefixed(prefix, topics.NOTIFICATION_JOBS),
        )


def read_topic(
    config: dict[str, Any], topic: str, cls: type, keep: Callable[[Any], bool] | None = None
) -> tuple[list, int]:
    """Records of `cls` on `topic` from the beginning to its current end (none if missing), and the bad count."""
    try:
        return read_records(config, topic, cls, keep=keep)
    except KafkaException as exc:
        if is_missing_topic(exc):
            return [], 0
        raise


def collect(
    bootstrap: str, names: ReportTopics, cfg: AnalyticsConfig | None = None, kafka: dict[str, Any] | None = None
) -> ReportData:
    """Read the topics and build the report data (`kafka`: TLS/SASL client settings)."""
    cfg = cfg or AnalyticsConfig()
    config = {**(kafka or {}), "bootstrap.servers": bootstrap}
    decisions, bad_d = read_topic(config, names.decisions, NotificationDecision)
    deliveries, bad_r = read_topic(config, names.delivery, DeliveryResult)
    events, bad_e = read_topic(config, names.events, BehaviorEvent, cfg.relevant)  # the rest changes no count
    metrics, bad_m = read_topic(config, names.metrics, TriggerMetrics)
    jobs, bad_j = read_topic(config, names.jobs, NotificationJob) if names.jobs else ([], 0)
    data = build_report(decisions, deliveries, events, metrics, cfg, now_ms=time.time_ns() // 1_000_000, jobs=jobs)
    data.read["undecodable"] = bad_d + bad_r + bad_e + bad_m + bad_j
    return data


def run_report(
    bootstrap: str,
    names: ReportTopics,
    html_path: Path,
    out: Callable[[str], None] = print,
    cfg: AnalyticsConfig | None = None,
    kafka: dict[str, Any] | None = None,
) -> tuple[int, ReportData | None]:
    """Print the report, write the HTML page and print its path; (exit code, data)."""
    try:
        data = collect(bootstrap, names, cfg, kafka)
    except (KafkaException, TimeoutError) as exc:
        out(f"cannot read the topics at {bootstrap}: {exc}")
        return 1, None
    for line in text_report(data):
        out(line)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(html_report(data), encoding="utf-8")
    out(f"HTML report: {html_path.resolve()}")
    return 0, data


def register(app: faust.App, settings: Settings) -> None:
    """Add `nudge report`."""
    default = ReportTopics.named(settings.topic_prefix)

    @app.command(
        option("--html", default=".local/nudge-report.html", show_default=True, help="where to write the HTML report"),
        option("--bootstrap", default=settings.kafka_bootstrap, help="Kafka bootstrap servers"),
        option("--decisions-topic", default=default.decisions, show_default=True),
        option("--delivery-topic", default=default.delivery, show_default=True),
        option("--events-topic", default=default.events, show_default=True),
        option("--metrics-topic", default=default.metrics, show_default=True),
        option("--jobs-topic", default=default.jobs, show_default=True),
    )
    async def report(
        self: object,
        html: str,
        bootstrap: str,
        decisions_topic: str,
        delivery_topic: str,
        events_topic: str,
        metrics_topic: str,
        jobs_topic: str,
    ) -> None:
        """Funnel, rates with CIs, decisions and lift per trigger x variant, sample pushes; writes an HTML page too."""
        names = ReportTopics(decisions_topic, delivery_topic, events_topic, metrics_topic, jobs_topic)
        code, _ = run_report(bootstrap, names, Path(html), kafka=librdkafka_config(settings))
        if code:
            raise SystemExit(code)
