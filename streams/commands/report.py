"""`nudge report`: engagement metrics per trigger and variant, in the terminal and as an HTML page."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from faust.cli import option

from schemas import topics
from schemas.codec import decode
from schemas.errors import SchemaError
from schemas.records import BehaviorEvent, DeliveryResult, NotificationDecision, NotificationJob, TriggerMetrics
from streams.analytics.attribution import AnalyticsConfig
from streams.analytics.html import html_report
from streams.analytics.report import ReportData, build_report, text_report
from streams.settings import Settings

# Behaviour event types attribution uses (feedback, conversions, activity); the rest is dropped after decoding.
FEEDBACK_TYPES = frozenset(
    {"notification_opened", "notification_clicked", "purchase", "app_open", "view", "cart", "fav"}
)


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
    bootstrap: str, topic: str, cls: type, keep: Callable[[Any], bool] | None = None, timeout_s: float = 60.0
) -> tuple[list, int]:
    """Records of `cls` on `topic` from the beginning to its current end (none if missing), and the bad count."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"nudge-report-{time.monotonic_ns()}",  # never commits: a read-only look
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    found: list = []
    bad = 0
    try:
        meta = consumer.list_topics(topic, timeout=10)
        info = meta.topics.get(topic)
        if info is None or info.error is not None:
            return [], 0
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in info.partitions}
        todo = {p for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in todo])
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            for msg in consumer.consume(5000, timeout=0.5):
                if msg.error():
                    continue
                if msg.offset() >= ends[msg.partition()][1] - 1:
                    todo.discard(msg.partition())
                if msg.offset() >= ends[msg.partition()][1]:
                    continue
                try:
                    record = decode(msg.value(), cls)
                except SchemaError:
                    bad += 1
                    continue
                if keep is None or keep(record):
                    found.append(record)
        if todo:
            raise TimeoutError(f"{topic}: partitions {sorted(todo)} not read to the end within {timeout_s:.0f} s")
    finally:
        consumer.close()
    return found, bad


def collect(bootstrap: str, names: ReportTopics, cfg: AnalyticsConfig | None = None) -> ReportData:
    """Read the four topics and build the report data."""
    decisions, bad_d = read_topic(bootstrap, names.decisions, NotificationDecision)
    deliveries, bad_r = read_topic(bootstrap, names.delivery, DeliveryResult)
    events, bad_e = read_topic(bootstrap, names.events, BehaviorEvent, lambda e: e.type in FEEDBACK_TYPES)
    metrics, bad_m = read_topic(bootstrap, names.metrics, TriggerMetrics)
    jobs, bad_j = read_topic(bootstrap, names.jobs, NotificationJob) if names.jobs else ([], 0)
    data = build_report(decisions, deliveries, events, metrics, cfg, now_ms=time.time_ns() // 1_000_000, jobs=jobs)
    data.read["undecodable"] = bad_d + bad_r + bad_e + bad_m + bad_j
    return data


def run_report(
    bootstrap: str,
    names: ReportTopics,
    html_path: Path,
    out: Callable[[str], None] = print,
    cfg: AnalyticsConfig | None = None,
) -> tuple[int, ReportData | None]:
    """Print the report, write the HTML page and print its path; (exit code, data)."""
    try:
        data = collect(bootstrap, names, cfg)
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
        code, _ = run_report(bootstrap, names, Path(html))
        if code:
            raise SystemExit(code)
