"""`nudge explain USER`: the story of one user's notification decisions, read from the decision log."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

import faust
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from faust.cli import argument, option

from schemas.codec import decode
from schemas.errors import SchemaError
from schemas.records import NotificationDecision
from schemas.topics import NOTIFICATION_DECISIONS
from streams.settings import Settings


def _when(at_ms: int | None) -> str:
    if at_ms is None:
        return "-"
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _detail(key: str, value: str) -> str:
    if key.endswith("_ms") and value.isdigit():
        return _when(int(value))
    return value


def read_decisions(bootstrap: str, topic: str, user_id: str, timeout_s: float = 30.0) -> tuple[list, int]:
    """Every decision about `user_id` on `topic` from the beginning to the current end, and the bad-record count."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"nudge-explain-{time.monotonic_ns()}",  # never commits: a read-only look
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    found: list[NotificationDecision] = []
    bad = 0
    try:
        meta = consumer.list_topics(topic, timeout=10)
        if meta.topics[topic].error is not None:
            raise KafkaException(meta.topics[topic].error)
        parts = sorted(meta.topics[topic].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
        todo = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in todo])
        key = user_id.encode()
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            if msg.offset() >= ends[msg.partition()] - 1:
                todo.discard(msg.partition())
            if msg.key() not in (None, key):
                continue  # keyed by user id: skip other users without decoding
            try:
                record = decode(msg.value(), NotificationDecision)
            except SchemaError:
                bad += 1
                continue
            if record.user_id == user_id:
                found.append(record)
        if todo:
            raise TimeoutError(f"{topic}: partitions {sorted(todo)} not read to the end within {timeout_s:.0f} s")
    finally:
        consumer.close()
    found.sort(key=lambda d: (d.event_time_ms, d.job_id))
    return found, bad


def format_story(user_id: str, decisions: list[NotificationDecision], bad: int = 0) -> list[str]:
    """Human lines: one per decision in time order, then totals by outcome."""
    if not decisions:
        return [f"No decisions for user {user_id}."]
    lines = [f"Decisions for user {user_id} ({len(decisions)}):"]
    for d in decisions:
        what = d.outcome + (f" ({d.reason})" if d.reason else "")
        if d.due_at_ms is not None:
            what += f" until {_when(d.due_at_ms)}"
        extra = ", ".join(f"{k}={_detail(k, v)}" for k, v in sorted(d.details.items()) if k != "priority")
        lines.append(
            f"  {_when(d.event_time_ms)}  {d.trigger_id}/{d.variant or '-'}  {what}  job {d.job_id}"
            + (f"  [{extra}]" if extra else "")
        )
    counts = Counter(d.outcome for d in decisions)
    lines.append("Totals: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if bad:
        lines.append(f"({bad} undecodable record(s) on the topic were skipped)")
    return lines


def explain_user(
    user_id: str, bootstrap: str, topic: str, out: Callable[[str], None] = print, timeout_s: float = 30.0
) -> int:
    """Print the user's story; return 0, or 1 when the topic cannot be read."""
    try:
        decisions, bad = read_decisions(bootstrap, topic, user_id, timeout_s)
    except (KafkaException, TimeoutError, KeyError) as exc:
        out(f"cannot read {topic} at {bootstrap}: {exc}")
        return 1
    for line in format_story(user_id, decisions, bad):
        out(line)
    return 0


def register(app: faust.App, settings: Settings) -> None:
    """Add `nudge explain USER`."""
    default_topic = settings.topic_prefix + NOTIFICATION_DECISIONS

    @app.command(
        argument("user_id"),
        option("--topic", default=default_topic, help="decision log topic"),
        option("--bootstrap", default=settings.kafka_bootstrap, help="Kafka bootstrap servers"),
    )
    async def explain(self: object, user_id: str, topic: str, bootstrap: str) -> None:
        """Why did (or didn't) USER get a push: every decision about them, in time order."""
        code = explain_user(user_id, bootstrap, topic, out=lambda line: print(line, file=sys.stdout))
        if code:
            raise SystemExit(code)
