"""The Grafana dashboard queries only metrics the code defines, so it cannot drift from the code."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "nudge-dashboard.json"
METRIC = re.compile(r"\bnudge_[a-z0-9_]+")
# series prometheus-client derives from one metric: histogram buckets/sum/count, the created timestamp
DERIVED = re.compile(r"_(bucket|sum|count|created)$")


def defined_metrics() -> set[str]:
    """Every `nudge_...` string literal in the code, with the `_total` prometheus-client adds to counters."""
    names: set[str] = set()
    for package in ("streams", "connectors", "schemas"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str) and METRIC.fullmatch(node.value):
                    names |= {node.value, node.value.removesuffix("_total") + "_total"}
    return names


def queried_metrics(dashboard: dict) -> set[str]:
    """Every metric name in the dashboard's PromQL expressions."""
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    return {DERIVED.sub("", name) for expr in exprs for name in METRIC.findall(expr)}


def test_every_queried_metric_is_defined_in_the_code() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queried = queried_metrics(dashboard)
    assert len(queried) >= 10
    assert sorted(queried - defined_metrics()) == []


def test_the_check_catches_an_undefined_metric() -> None:
    fake = {"panels": [{"targets": [{"expr": "rate(nudge_no_such_thing_total[1m])"}]}]}
    assert queried_metrics(fake) - defined_metrics() == {"nudge_no_such_thing_total"}


def test_histograms_are_matched_by_their_base_name() -> None:
    fake = {
        "panels": [{"targets": [{"expr": "histogram_quantile(0.99, rate(nudge_delivery_batch_seconds_bucket[5m]))"}]}]
    }
    assert queried_metrics(fake) == {"nudge_delivery_batch_seconds"}


def test_panels_are_laid_out_and_use_the_datasource_variable() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["templating"]["list"][0]["name"] == "datasource"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for p in dashboard["panels"]:
        assert p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        for t in p.get("targets", []):
            assert t["datasource"]["uid"] == "${datasource}"
