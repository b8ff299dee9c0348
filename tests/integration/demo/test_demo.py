"""`nudge demo` end to end, real processes on the real stack: the simulator's true effect shows in the metrics."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from streams.analytics.report import FROM_TOPIC
from streams.commands.report import ReportTopics, collect
from tests.support.browser import dom, screenshot

USERS, DAYS, SECONDS, SEED = 800, 9, 70, 7  # 7+ days of event time: inactivity and streaks fire too
TRIGGERS = yaml.safe_load((Path(__file__).resolve().parents[3] / "streams" / "triggers.yaml").read_text())["triggers"]


def still_running(mark: str) -> list[str]:
    """Command lines of live processes that mention `mark` (the demo's own work folder)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(mark.encode() in a for a in args):
            found.append(b" ".join(args).decode(errors="replace"))
    return found


def test_demo_detects_the_better_variant_and_the_holdout_converts_less(
    kafka_bootstrap: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "NUDGE_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "NUDGE_REDIS_URL": redis_url,
        "NUDGE_DELIVERY_REDIS_PREFIX": redis_prefix,
    }
    args = ["--users", str(USERS), "--days", str(DAYS), "--duration", str(SECONDS), "--seed", str(SEED)]
    demo = subprocess.run(
        [sys.executable, "-m", "streams.cli", "demo", *args, "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "HTML report:" in demo.stdout and "demo processes stopped" in demo.stdout
    (workdir,) = tmp_path.glob("demo-*")
    assert still_running(str(workdir)) == []  # the demo stops everything it started

    data = collect(kafka_bootstrap, ReportTopics.named(workdir.name + "."))
    assert data.source == FROM_TOPIC  # what analysts read: the metrics the stream worker published
    rows = {r.variant: r for r in data.rows if r.trigger_id == "cart_abandoned"}
    urgent, default, holdout = rows["urgent"], rows["default"], rows["holdout"]  # the simulator favours "urgent"
    assert min(urgent.sent, default.sent, holdout.holdout) >= 30, rows
    assert urgent.opened / urgent.delivered > default.opened / default.delivered, rows
    assert holdout.converted / holdout.holdout < default.converted / default.sent < urgent.converted / urgent.sent
    assert urgent.lift_ci_low is not None and urgent.lift_ci_low > 0, urgent  # the CI excludes zero

    # Every trigger of the example catalogue reached someone, and the report shows what they read.
    sent = {r.trigger_id for r in data.rows if r.sent > 0}
    assert sent == {t["id"] for t in TRIGGERS}, sorted({t["id"] for t in TRIGGERS} - sent)
    assert {trigger for trigger, _ in data.received} == sent
    page = workdir / "report.html"
    width, height = screenshot(page, tmp_path / "report.png")
    assert (width, height) == (1100, 1600) and (tmp_path / "report.png").stat().st_size > 50_000
    html = dom(page)
    cards = html.count('class="card"')
    assert cards >= len(sent) and all(f'data-trigger="{t}"' in html for t in sent), cards
    assert html.index("What users received") < html.index("Funnel per trigger")  # the first thing one sees
