"""`nudge explain USER`: the story of one user's notification decisions, read from the decision log."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import faust
from confluent_kafka import KafkaException
from faust.cli import argument, option

from connectors.ingest.topic_reader import read_records
from schemas.records import NotificationDecision
from schemas.topics import NOTIFICATION_DECISIONS
from streams.commands.kafka_security import librdkafka_config
from streams.settings import Settings


def _when(at_ms: int | None) -> str:
    if at_ms is None:
        return "-"
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _detail(key: str, value: str) -> str:
    if key.endswith("_ms") and value.isdigit():
        return _when(int(value))
    return value


def read_decisions(config: dict[str, Any], topic: str, user_id: str, timeout_s: float = 30.0) -> tuple[list, int]:
    """Every decision about `user_id` on `topic` from the beginning to the current end, and the bad-record count."""
    found, bad = read_records(config, topic, NotificationDecision, key=user_id.encode(),
                              keep=lambda d: d.user_id == user_id, timeout_s=timeout_s)  # fmt: skip
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
    user_id: str,
    bootstrap: str,
    topic: str,
    out: Callable[[str], None] = print,
    timeout_s: float = 30.0,
    kafka: dict[str, Any] | None = None,
) -> int:
    """Print the user's story; return 0, or 1 when the topic cannot be read (`kafka`: TLS/SASL client settings)."""
    try:
        decisions, bad = read_decisions({**(kafka or {}), "bootstrap.servers": bootstrap}, topic, user_id, timeout_s)
    except (KafkaException, TimeoutError) as exc:
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
        code = explain_user(user_id, bootstrap, topic, out=lambda line: print(line, file=sys.stdout),
                            kafka=librdkafka_config(settings))  # fmt: skip
        if code:
            raise SystemExit(code)
