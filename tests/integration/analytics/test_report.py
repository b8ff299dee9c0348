"""`nudge report` on the real broker: its numbers agree with an independent count over the topics."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Producer

from schemas.codec import encode
from streams.analytics.report import FROM_TOPIC, RECOMPUTED
from streams.commands.report import ReportTopics, run_report
from tests.support.records import decision, delivery, event

T0 = 1_750_000_000_000
HOUR = 3_600_000
DAY = 24 * HOUR


def produce(bootstrap: str, topic: str, records: list, junk: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for r in records:
        producer.produce(topic, encode(r), r.user_id.encode())
    for i in range(junk):
        producer.produce(topic, b"not avro %d" % i, b"junk")
    assert producer.flush(10) == 0


def world(seed: int) -> tuple[list, list, list]:
    """One job per user: cart reminders in two variants and a holdout, with feedback and purchases."""
    rng = random.Random(seed)
    decisions, deliveries, events = [], [], []
    for i in range(300):
        user, job, at = f"u{i}", f"j{i}", T0 + rng.randrange(2 * DAY)
        arm = rng.choice(["default", "urgent", "holdout", "suppressed"])
        outcome = {"holdout": "holdout", "suppressed": "suppressed"}.get(arm, "queued")
        variant = "holdout" if arm == "holdout" else rng.choice(["default", "urgent"])
        if outcome == "queued" and rng.random() < 0.2:  # a deferred step before the job goes out
            decisions.append(decision(user, job, "deferred", at - HOUR, variant=variant, reason="quiet_hours"))
        decisions.append(
            decision(user, job, outcome, at, variant=variant, reason="frequency_cap" if arm == "suppressed" else None)
        )
        if outcome == "queued":
            status = rng.choices(["sent", "no_devices", "failed"], [0.85, 0.1, 0.05])[0]
            for attempt in (1, 2) if status == "sent" and rng.random() < 0.1 else (1,):  # a repeated result
                deliveries.append(delivery(user, job, at + 1000, status, variant=variant, attempt=attempt))
            if status == "sent" and rng.random() < 0.5:
                events.append(event(user, "notification_opened", at + 60_000, job))
                if rng.random() < 0.5:
                    events.append(event(user, "notification_clicked", at + 90_000, job))
        p_buy = {"urgent": 0.5, "default": 0.3}.get(variant, 0.15)
        if rng.random() < p_buy:
            events.append(event(user, "purchase", at + rng.choice([HOUR, 20 * HOUR, 2 * DAY])))
        events.append(event(user, "view", at - 2 * HOUR))  # before the push: neither conversion nor retention
    return decisions, deliveries, events


def expected(decisions: list, deliveries: list, events: list) -> dict[str, dict[str, int]]:
    """Count straight from the records (one job per user, so no attribution choices to make)."""
    final = {d.job_id: d for d in decisions if d.outcome != "deferred"}
    delivered = {r.job_id for r in deliveries if r.status == "sent"}
    opened = {e.job_id for e in events if e.type in ("notification_opened", "notification_clicked")}
    clicked = {e.job_id for e in events if e.type == "notification_clicked"}
    bought = Counter()
    for e in events:
        d = final[f"j{e.user_id[1:]}"]
        if e.type == "purchase" and d.event_time_ms <= e.event_time_ms <= d.event_time_ms + DAY:
            bought[d.job_id] = 1
    out: dict[str, dict[str, int]] = {}
    for v in ("default", "urgent", "holdout"):
        mine = [d for d in final.values() if d.variant == v]
        out[v] = {
            "fired": len(mine),
            "sent": sum(d.outcome == "queued" for d in mine),
            "delivered": sum(d.job_id in delivered for d in mine),
            "opened": sum(d.job_id in delivered and d.job_id in opened for d in mine),
            "clicked": sum(d.job_id in delivered and d.job_id in clicked for d in mine),
            "converted": sum(bought[d.job_id] for d in mine if d.outcome in ("holdout", "queued")),
            "holdout": sum(d.outcome == "holdout" for d in mine),
            "suppressed": sum(d.outcome == "suppressed" for d in mine),
        }
    return out


@pytest.fixture
def names(topic_factory) -> ReportTopics:
    return ReportTopics(
        decisions=topic_factory("decisions", 3),
        delivery=topic_factory("delivery", 3),
        events=topic_factory("events", 3),
        metrics=topic_factory("metrics", 1),
    )


def test_report_numbers_agree_with_the_topics(kafka_bootstrap: str, names: ReportTopics, tmp_path: Path) -> None:
    decisions, deliveries, events = world(seed=3)
    produce(kafka_bootstrap, names.decisions, decisions, junk=2)
    produce(kafka_bootstrap, names.delivery, deliveries)
    produce(kafka_bootstrap, names.events, events)
    lines: list[str] = []
    html = tmp_path / "report.html"
    code, data = run_report(kafka_bootstrap, names, html, out=lines.append)
    assert code == 0 and data is not None
    assert data.source == RECOMPUTED
    assert data.read["undecodable"] == 2
    want = expected(decisions, deliveries, events)
    rows = {r.variant: r for r in data.rows}
    assert set(rows) == {"default", "urgent", "holdout"}
    for variant, counts in want.items():
        row = rows[variant]
        got = {name: getattr(row, name) for name in counts if name != "suppressed"}
        got["suppressed"] = row.suppressed.get("frequency_cap", 0)
        assert got == counts, variant
    h = want["holdout"]
    for variant in ("default", "urgent"):
        w = want[variant]
        assert rows[variant].lift == pytest.approx(w["converted"] / w["sent"] - h["converted"] / h["holdout"])
        assert rows[variant].lift_ci_low < rows[variant].lift < rows[variant].lift_ci_high
    assert data.outcomes["cart_abandoned"] == Counter(d.outcome for d in decisions)
    assert sum(n for _, n in data.sends_per_hour) == sum(r.status == "sent" for r in deliveries)
    page = html.read_text()
    assert page.count("<svg") >= 5 and "<script" not in page and "https://" not in page
    assert lines[-1] == f"HTML report: {html.resolve()}"
    assert any(line.startswith("cart_abandoned/urgent") for line in lines)


def test_report_prefers_the_published_metrics(kafka_bootstrap: str, names: ReportTopics, tmp_path: Path) -> None:
    decisions, deliveries, events = world(seed=5)
    produce(kafka_bootstrap, names.decisions, decisions)
    produce(kafka_bootstrap, names.delivery, deliveries)
    produce(kafka_bootstrap, names.events, events)
    _, first = run_report(kafka_bootstrap, names, tmp_path / "a.html", out=lambda _: None)
    assert first is not None
    from streams.analytics.batch import recompute

    published = recompute(decisions, deliveries, events).records(T0 + 3 * DAY)
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for r in published:
        producer.produce(names.metrics, encode(r), f"{r.trigger_id}|{r.variant}|{r.window_start_ms}".encode())
    assert producer.flush(10) == 0
    _, second = run_report(kafka_bootstrap, names, tmp_path / "b.html", out=lambda _: None)
    assert second is not None and second.source == FROM_TOPIC
    strip = lambda rows: [(r.variant, r.fired, r.delivered, r.converted, r.lift) for r in rows]  # noqa: E731
    assert strip(second.rows) == strip(first.rows)


def test_report_says_when_the_broker_cannot_be_read(tmp_path: Path) -> None:
    lines: list[str] = []
    code, _ = run_report("127.0.0.1:1", ReportTopics.named("x."), tmp_path / "r.html", out=lines.append)
    assert code == 1 and "cannot read" in lines[0]
