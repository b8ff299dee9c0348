"""The scale section of BENCHMARKS.md: one row per user count, the targets, and where it goes in the file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- scale:begin -->", "<!-- scale:end -->"
NOTES = Path(__file__).with_name("NOTES.md")  # `nudge bench` closes BENCHMARKS.md with it
TARGETS = (
    "warm restart (local store kept) to ready <= 10 s at 1M users",
    "cold recovery from the changelog >= 50k records/s",
    "peak RSS <= 1 GiB at 1M users",
    "events/s at 1M users >= 90% of the rate at 50k",
)


def figures_line(figures: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in figures.items())


def _cell(phase: Any, key: str, fmt: str = "{:,.0f}", unit: str = "") -> str:
    if phase is None:
        return "-"
    if phase.error:
        if "did not finish" not in phase.error:
            return "failed"
        reached = phase.figures.get(key) if key != "events_per_s" else phase.figures.get("processed")
        return "did not finish" + ("" if reached is None else f" ({reached:,.0f}{unit or ' processed'})")
    value = phase.figures.get(key)
    return "-" if value is None else fmt.format(value) + unit


def rows(runs: list[Any]) -> list[str]:
    """Markdown table rows, one per size."""
    out = [
        "| users | events | events/s | decisions per 1k events | peak RSS | warm: to /ready "
        "| warm: to first event per partition | warm: changelog read | warm: longest /health | cold: records/s "
        "| cold: to /ready | cold: to first event per partition | cold: longest /health |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        p, w, c = (r.phases.get(n) for n in ("process", "warm", "cold"))
        warm_read = "-"
        if w is not None and not w.error:
            warm_read = f"{w.figures['changelog_read']:,.0f} of {w.figures['changelog_records']:,.0f}"
        decisions = "-" if p is None or p.error else _cell(p, "decisions_per_1k_events", "{:,.1f}")
        out.append(
            f"| {r.users:,} | {r.events:,} | {_cell(p, 'events_per_s')} | {decisions} "
            f"| {_cell(p, 'peak_rss_mib', unit=' MiB')} "
            f"| {_cell(w, 'ready_s', '{:,.1f}', ' s')} | {_cell(w, 'processing_s', '{:,.1f}', ' s')} | {warm_read} "
            f"| {_cell(w, 'longest_health_s', '{:,.1f}', ' s')} | {_cell(c, 'records_per_s')} "
            f"| {_cell(c, 'ready_s', '{:,.1f}', ' s')} | {_cell(c, 'processing_s', '{:,.1f}', ' s')} "
            f"| {_cell(c, 'longest_health_s', '{:,.1f}', ' s')} |"
        )
    return out


def rate_runs_note(runs: list[Any]) -> list[str]:
    """Which sizes' events/s are medians, and of which runs."""
    parts = [f"{r.users:,} users {' / '.join(f'{x:,.0f}' for x in r.rate_runs)}" for r in runs if r.rate_runs]
    if not parts:
        return []
    return [
        "events/s of a size whose events take seconds is the median of its process runs (each on fresh "
        "topics): " + "; ".join(parts) + ".",
        "",
    ]


def section(runs: list[Any], partitions: int, phase_minutes: float, span_minutes: float, command: str) -> str:
    """The whole section, between markers so a later scale run replaces it in place."""
    failures = [f"- {r.users:,} users, {name}: {ph.error.splitlines()[0]}" for r in runs
                for name, ph in r.phases.items() if ph.error]  # fmt: skip
    lines = [
        BEGIN,
        "## Scale: one worker, RocksDB store",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Each size: fresh topics "
        f"with {partitions} partitions, every user with the same number of events (shuffled) and every size's "
        f"events spread over the same {span_minutes:,.0f} minutes of event time (a larger app is more users in the "
        "same hours: with a longer history more timers would fall due, and sizes would differ in work), the full "
        "`streams/triggers.yaml`, replay mode, the `rocksdb://` store (the chart's). *warm*: the same worker "
        "restarted on its data dir; *cold*: a worker on an empty data dir, restoring from the changelog. *to /ready*: "
        "process start to /ready 200; *to first event per partition*: to one probe event in each partition "
        "processed, published once /ready said 200; *changelog read*: records the recovery read (Faust's start "
        "offsets to highwaters) of all there are; *decisions per 1k events*: records on `notifications.decisions` "
        "(sent, suppressed, held out) per 1,000 events; *longest /health*: the slowest of the "
        "answers to /health asked "
        f"every 0.25 s (the event loop blocked that long). Each phase is bounded by {phase_minutes:.0f} min. "
        "JSON: `bench-results/scale.json`.",
        "",
        *rows(runs),
        "",
        *rate_runs_note(runs),
        "Targets: " + "; ".join(TARGETS) + ".",
    ]
    if failures:
        lines += ["", *failures]
    return "\n".join([*lines, END])


def splice(path: Path, text: str) -> None:
    """Replace the scale section in `path`, or put it before the bench notes (or at the end)."""
    current = path.read_text() if path.exists() else ""
    notes_start = NOTES.read_text().strip().splitlines()[0] if NOTES.exists() else "\0"
    if BEGIN in current and END in current:
        head, _, rest = current.partition(BEGIN)
        _, _, tail = rest.partition(END)
        updated = head + text + tail
    elif notes_start in current:
        head, _, tail = current.partition(notes_start)
        updated = head + text + "\n\n" + notes_start + tail
    else:
        updated = current.rstrip("\n") + ("\n\n" if current else "") + text + "\n"
    path.write_text(updated)
