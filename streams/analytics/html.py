"""The HTML report: one self-contained page, charts drawn as inline SVG (no scripts, no CDN)."""

from __future__ import annotations

from html import escape

from schemas.records import NotificationJob, TriggerMetrics
from streams.analytics.attribution import HOLDOUT
from streams.analytics.report import ReportData, base_of, lift_text, pct, text_report, when
from streams.analytics.stats import rate, wilson

COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d")
FUNNEL = ("fired", "sent", "delivered", "opened", "clicked", "converted")
STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}svg text{font-size:11px}pre{font-size:.8em;background:#f6f6f6;padding:1em}
.phones{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}.phone{width:300px;background:#1f2430;border-radius:18px;padding:.8em}
.phone h3{color:#ddd;font-size:.85em;margin:.2em .3em .6em}
.card{background:#fff;border-radius:12px;padding:.6em .7em;margin-bottom:.6em;font-size:.85em;overflow:hidden}
.card .head{color:#666;font-size:.8em;margin-bottom:.2em}.card .title{font-weight:600}.card .body{color:#333}
.card .picture{position:relative;height:120px;margin-top:.5em;border-radius:8px;overflow:hidden}
.card .picture .placeholder{position:absolute;inset:0;background:#e9ecf2;color:#667;font-size:.75em;display:flex;
align-items:center;justify-content:center;text-align:center;padding:.5em;word-break:break-all}
.card .picture .image{position:absolute;inset:0;background-size:cover;background-position:center}
"""


def _svg(width: int, height: int, body: list[str]) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">{"".join(body)}</svg>'


def _rect(x: float, y: float, w: float, h: float, fill: str, title: str = "") -> str:
    tip = f"<title>{escape(title)}</title>" if title else ""
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}">{tip}</rect>'


def _text(x: float, y: float, text: object) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}">{escape(str(text))}</text>'


def _legend(x0: int, y: int, names: list[str] | tuple[str, ...], step: int) -> list[str]:
    out = []
    for i, name in enumerate(names):
        out += [_rect(x0 + i * step, y, 10, 10, COLOURS[i % len(COLOURS)]), _text(x0 + i * step + 14, y + 9, name)]
    return out


def funnel_chart(data: ReportData) -> str:
    """Horizontal bars per trigger x variant for each funnel step."""
    rows = [r for r in data.rows if r.variant != HOLDOUT]
    top = max((r.fired or r.delivered for r in rows), default=1) or 1
    bar, gap, label_w, width = 9, 14, 230, 760
    body: list[str] = []
    y = 10
    for r in rows:
        body.append(f'<text x="0" y="{y + 10}">{escape(r.trigger_id)}/{escape(r.variant)}</text>')
        for i, step in enumerate(FUNNEL):
            n = getattr(r, step)
            w = max(1, int((width - label_w - 60) * n / top)) if n else 0
            yy = y + i * bar
            body += [_rect(label_w, yy, w, bar - 1, COLOURS[i], f"{step} {n}"), _text(label_w + w + 4, yy + bar - 1, n)]
        y += len(FUNNEL) * bar + gap
    return _svg(width, y + 20, [*body, *_legend(label_w, y, FUNNEL, 90)])


def rate_chart(data: ReportData, field: str) -> str:
    """A rate per trigger x variant as a dot with its 95% Wilson interval."""

    def base(r: TriggerMetrics) -> int:
        return base_of(r) if field == "converted" else r.delivered

    rows = [r for r in data.rows if base(r) > 0 and (field == "converted" or r.variant != HOLDOUT)]
    label_w, width, step = 230, 760, 20
    scale = width - label_w - 20
    top = max((wilson(getattr(r, field), base(r))[1] for r in rows), default=1.0) or 1.0
    body = [f'<line x1="{label_w}" y1="0" x2="{label_w}" y2="{len(rows) * step + 5}" stroke="#999"/>']
    for i, r in enumerate(rows):
        k, n = getattr(r, field), base(r)
        low, high = wilson(k, n)
        p = rate(k, n) or 0.0
        y = i * step + 12
        colour = "#888" if r.variant == HOLDOUT else COLOURS[i % len(COLOURS)]
        body.append(f'<text x="0" y="{y + 4}">{escape(r.trigger_id)}/{escape(r.variant)}</text>')
        body.append(
            f'<line x1="{label_w + scale * low / top:.1f}" y1="{y}" x2="{label_w + scale * high / top:.1f}" y2="{y}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        tip = escape(pct(k, n))
        body.append(
            f'<circle cx="{label_w + scale * p / top:.1f}" cy="{y}" r="4" fill="{colour}"><title>{tip}</title></circle>'
        )
    body.append(f'<text x="{width - 60}" y="{len(rows) * step + 18}">max {100 * top:.0f}%</text>')
    return _svg(width, len(rows) * step + 25, body)


def outcome_chart(data: ReportData) -> str:
    """Stacked bars of decision outcomes per trigger."""
    names = sorted({o for c in data.outcomes.values() for o in c})
    top = max((sum(c.values()) for c in data.outcomes.values()), default=1) or 1
    label_w, width, step = 230, 760, 18
    body: list[str] = []
    for i, (trigger, counts) in enumerate(data.outcomes.items()):
        y, x = i * step + 4, float(label_w)
        body.append(f'<text x="0" y="{y + 11}">{escape(trigger)}</text>')
        for j, name in enumerate(names):
            w = (width - label_w - 10) * counts.get(name, 0) / top
            if w:
                body.append(_rect(x, y, w, step - 4, COLOURS[j % len(COLOURS)], f"{name} {counts[name]}"))
            x += w
    y = len(data.outcomes) * step + 8
    body += _legend(label_w, y, names, 95)
    return _svg(width, y + 16, body)


def sends_chart(data: ReportData) -> str:
    """Pushes accepted by the provider per hour (of the jobs' event time when the jobs were read)."""
    points = data.sends_per_hour
    width, height, pad = 760, 160, 30
    if not points:
        return _svg(width, 30, ['<text x="0" y="20">no sends</text>'])
    t0, t1 = points[0][0], max(points[-1][0], points[0][0] + 1)
    top = max(n for _, n in points)
    xy = [
        (pad + (width - 2 * pad) * (t - t0) / (t1 - t0), height - pad - (height - 2 * pad) * n / top) for t, n in points
    ]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    return _svg(
        width,
        height,
        [
            f'<polyline points="{path}" fill="none" stroke="{COLOURS[0]}" stroke-width="2"/>',
            f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>',
            f'<text x="{pad}" y="{height - 10}">{when(t0)}</text>',
            f'<text x="{width - pad - 110}" y="{height - 10}">{when(t1)}</text>',
            f'<text x="{pad}" y="{pad - 10}">peak {top}/hour</text>',
        ],
    )


def _card(job: NotificationJob) -> str:
    """One notification as a phone shows it; a picture that cannot load (offline) leaves a labelled box."""
    picture = ""
    if job.image_url:
        url = escape(job.image_url, quote=True)
        picture = (f'<div class="picture"><div class="placeholder">picture: {escape(job.image_url)}</div>'
                   f'<div class="image" style="background-image:url(&quot;{url}&quot;)"></div></div>')  # fmt: skip
    head = f"Nudge · {escape(job.locale or '-')} · {when(job.created_at_ms)}"
    text = f'<div class="title">{escape(job.title)}</div><div class="body">{escape(job.body)}</div>'
    return (
        f'<div class="card" data-trigger="{escape(job.trigger_id)}"><div class="head">{head}</div>{text}{picture}</div>'
    )


def received_section(data: ReportData) -> str:
    """Sample pushes per trigger x variant, drawn as notification cards."""
    if not data.received:
        return "<p>No push was sent (or notifications.jobs could not be read).</p>"
    phones = "".join(
        f'<div class="phone"><h3>{escape(trigger)} / {escape(variant)}</h3>{"".join(_card(j) for j in jobs)}</div>'
        for (trigger, variant), jobs in data.received.items()
    )
    return f'<div class="phones">{phones}</div>'


def html_report(data: ReportData) -> str:
    """The whole page."""
    lift_rows = "".join(
        f"<tr><td>{escape(r.trigger_id)}/{escape(r.variant)}</td><td>{base_of(r)}</td>"
        f"<td>{escape(pct(r.converted, base_of(r)))}</td><td>{escape(lift_text(r))}</td></tr>"
        for r in data.rows
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nudge report</title><style>{STYLE}</style></head><body>
<h1>Nudge report</h1><p>Metrics {escape(data.source)}.</p>
<h2>What users received</h2>{received_section(data)}
<h2>Funnel per trigger</h2>{funnel_chart(data)}
<h2>Open rate per variant (out of delivered, 95% Wilson CI)</h2>{rate_chart(data, "opened")}
<h2>Click rate per variant</h2>{rate_chart(data, "clicked")}
<h2>Conversion rate per variant (out of sent), holdout in grey</h2>{rate_chart(data, "converted")}
<h2>Lift vs holdout (Newcombe 95% CI; * excludes zero)</h2>
<table><tr><th>trigger/variant</th><th>sent / held out</th><th>conversion</th><th>lift</th></tr>{lift_rows}</table>
<h2>Decisions by outcome</h2>{outcome_chart(data)}
<h2>Sends over time (per hour, {escape(data.sends_by)})</h2>{sends_chart(data)}
<h2>All numbers</h2><pre>{escape(chr(10).join(text_report(data)))}</pre>
</body></html>
"""
