"""The analyst report: funnel per trigger, rates per variant with CIs, decisions by outcome, lift; as text."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.records import BehaviorEvent, DeliveryResult, NotificationDecision, NotificationJob, TriggerMetrics
from streams.analytics.attribution import HOLDOUT, HOUR_MS, AnalyticsConfig
from streams.analytics.batch import recompute
from streams.analytics.metrics import board_from_records
from streams.analytics.stats import rate, wilson

FROM_TOPIC = "analytics.trigger_metrics"
SAMPLES_PER_VARIANT = 4  # notifications shown per trigger x variant in "What users received"
RECOMPUTED = "recomputed from notifications.decisions, notifications.delivery and behavior.events"


@dataclass
class ReportData:
    """Everything the text and HTML reports show."""

    source: str
    rows: list[TriggerMetrics]  # one per trigger x variant, all windows folded
    outcomes: dict[str, Counter[str]]  # trigger -> decision outcome -> count
    delivery_status: Counter[tuple[str, str]]  # (provider, status) -> count
    sends_per_hour: list[tuple[int, int]]  # (hour start ms of the job's event time, jobs sent)
    read: dict[str, int] = field(default_factory=dict)
    received: dict[tuple[str, str], list[NotificationJob]] = field(default_factory=dict)  # samples sent
    sends_by: str = "event time"  # what the hours of sends_per_hour are: the jobs' event time, or the wall clock


def build_report(
    decisions: list[NotificationDecision],
    deliveries: list[DeliveryResult],
    events: list[BehaviorEvent],
    metrics: Iterable[TriggerMetrics] = (),
    cfg: AnalyticsConfig | None = None,
    now_ms: int = 0,
    jobs: Iterable[NotificationJob] = (),
) -> ReportData:
    """Metrics from the metrics topic when it has any, else recomputed from the raw records."""
    published = list(metrics)
    if published:
        board, source = board_from_records(published), FROM_TOPIC
    else:
        board, source = recompute(decisions, deliveries, events, cfg), RECOMPUTED
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for d in decisions:
        outcomes[d.trigger_id][d.outcome] += 1
    by_id = {j.job_id: j for j in jobs}
    sent = {r.job_id for r in deliveries if r.status == "sent"}
    if by_id:  # when each push was meant for, in the stream's own time (a replay's wall clock says nothing)
        hours = Counter(at - at % HOUR_MS for j in sent if (at := by_id[j].created_at_ms if j in by_id else None))
    else:
        hours = Counter(r.at_ms - r.at_ms % HOUR_MS for r in deliveries if r.status == "sent")
    return ReportData(
        source=source,
        rows=board.collapsed().records(now_ms),
        outcomes=dict(sorted(outcomes.items())),
        delivery_status=Counter((r.provider, r.status) for r in deliveries),
        sends_per_hour=sorted(hours.items()),
        read={
            "decisions": len(decisions),
            "deliveries": len(deliveries),
            "events": len(events),
            "metrics": len(published),
            "jobs": len(by_id),
        },
        received=samples_received([by_id[j] for j in sorted(sent) if j in by_id]),
        sends_by="event time" if by_id else "wall clock",
    )


def samples_received(
    sent: list[NotificationJob], per_variant: int = SAMPLES_PER_VARIANT
) -> dict[tuple[str, str], list[NotificationJob]]:
    """A few pushes people received per trigger x variant: other locales and other texts first, pictures first."""
    groups: dict[tuple[str, str], list[NotificationJob]] = defaultdict(list)
    for job in sorted(sent, key=lambda j: (j.image_url is None, j.created_at_ms, j.job_id)):
        groups[(job.trigger_id, job.variant)].append(job)
    out = {}
    for key, group in sorted(groups.items()):
        picked: list[NotificationJob] = []
        for new_locale in (True, False):
            for job in group:
                fresh = (job.title, job.body) not in {(p.title, p.body) for p in picked}
                other_locale = all(p.locale != job.locale for p in picked)
                if len(picked) < per_variant and fresh and (other_locale or not new_locale):
                    picked.append(job)
        out[key] = picked
    return out


def base_of(row: TriggerMetrics) -> int:
    """Who a row's conversions are out of: jobs sent (intention to treat), or held-out firings."""
    return row.holdout if row.variant == HOLDOUT else row.sent


def pct(successes: int, trials: int) -> str:
    """'12.3% [10.1-14.8]' with the Wilson 95% interval, or '-' without trials."""
    r = rate(successes, trials)
    if r is None:
        return "-"
    low, high = wilson(successes, trials)
    return f"{100 * r:.1f}% [{100 * low:.1f}-{100 * high:.1f}]"


def lift_text(row: TriggerMetrics) -> str:
    """'+4.2 pts [1.0, 7.5]' or '-' when there is no holdout to compare with."""
    if row.lift is None or row.lift_ci_low is None or row.lift_ci_high is None:
        return "-"
    mark = " *" if row.lift_ci_low > 0 or row.lift_ci_high < 0 else ""
    return f"{100 * row.lift:+.1f} pts [{100 * row.lift_ci_low:+.1f}, {100 * row.lift_ci_high:+.1f}]{mark}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """Aligned text columns (first column left, the rest right)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    return [line(header), "  ".join("-" * w for w in widths), *map(line, rows)]


def text_report(data: ReportData) -> list[str]:
    """The terminal report."""
    out = [
        f"Nudge report  (metrics {data.source})",
        "  read: " + ", ".join(f"{k} {v}" for k, v in data.read.items()),
        "",
    ]
    out.append("Funnel per trigger x variant")
    out += table(
        [
            "trigger/variant",
            "fired",
            "suppressed",
            "holdout",
            "sent",
            "delivered",
            "opened",
            "clicked",
            "converted",
            "retained",
        ],
        [
            [
                f"{r.trigger_id}/{r.variant}",
                *map(str, (r.fired, sum(r.suppressed.values()), r.holdout, r.sent, r.delivered)),
                *map(str, (r.opened, r.clicked, r.converted, r.retained)),
            ]
            for r in data.rows
        ],
    )
    out += ["", "Rates per variant, 95% Wilson CI: opens and clicks out of delivered, conversions out of sent"]
    out += ["(the holdout: out of held-out firings); lift = conversion minus the holdout's, Newcombe 95% CI"]
    out += table(
        ["trigger/variant", "sent", "delivered", "open rate", "click rate", "conversion", "lift vs holdout"],
        [
            [
                f"{r.trigger_id}/{r.variant}",
                str(base_of(r)),
                str(r.delivered),
                *(pct(n, r.delivered) for n in (r.opened, r.clicked)),
                pct(r.converted, base_of(r)),
                lift_text(r),
            ]
            if r.variant != HOLDOUT
            else [f"{r.trigger_id}/{r.variant}", str(base_of(r)), "-", "-", "-", pct(r.converted, base_of(r)), "-"]
            for r in data.rows
        ],
    )
    out.append("  * the interval excludes zero")
    reasons: Counter[str] = Counter()
    for r in data.rows:
        reasons.update(r.suppressed)
    out += ["", "Decisions by outcome"]
    names = sorted({o for c in data.outcomes.values() for o in c})
    out += table(["trigger", *names], [[t, *(str(c.get(o, 0)) for o in names)] for t, c in data.outcomes.items()])
    if reasons:
        out += ["", "Not sent, by reason: " + ", ".join(f"{k} {v}" for k, v in reasons.most_common())]
    out += ["", "Delivery results"]
    out += table(
        ["provider", "status", "count"], [[p, s, str(n)] for (p, s), n in sorted(data.delivery_status.items())]
    )
    if data.sends_per_hour:
        first, last = data.sends_per_hour[0][0], data.sends_per_hour[-1][0]
        out.append(
            f"  sends from {when(first)} to {when(last + HOUR_MS)} ({data.sends_by}), "
            f"peak {max(n for _, n in data.sends_per_hour)}/hour"
        )
    if data.received:
        out += ["", "What users received (a sample per trigger x variant)"]
        for (trigger, variant), jobs in data.received.items():
            for job in jobs[:2]:
                picture = "  [picture]" if job.image_url else ""
                out.append(f"  {trigger}/{variant} ({job.locale}): {job.title} | {job.body}{picture}")
    return out


def when(at_ms: int) -> str:
    """UTC time to the minute."""
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%MZ")
