"""NOTES.txt renders, and warns about what an operator should fix."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.chart.conftest import ALL_FEATURES, CHART, one, run_helm

# `helm template` skips NOTES.txt, so a copy of the chart renders it into a ConfigMap with `tpl`.
PROBE = """apiVersion: v1
kind: ConfigMap
metadata:
  name: notes
data:
  notes: {{ tpl (.Files.Get "notes.txt") . | toJson }}
"""


@pytest.fixture(scope="module")
def notes(helm, tmp_path_factory):
    chart = tmp_path_factory.mktemp("chart") / "nudge"
    shutil.copytree(CHART, chart)
    shutil.copy(chart / "templates" / "NOTES.txt", chart / "notes.txt")
    (chart / "templates" / "zz-notes.yaml").write_text(PROBE)

    def _notes(*args: str) -> str:
        proc = run_helm(helm, "template", "nudge", str(chart), "--kube-version", "1.30.0", *args)
        assert proc.returncode == 0, proc.stderr
        docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
        return one([d for d in docs if d["metadata"]["name"] == "notes"], "ConfigMap")["data"]["notes"]

    return _notes


def test_default_notes_point_at_the_workers_and_missing_config(notes):
    text = notes()
    assert "rollout status statefulset/nudge-streams" in text
    assert "no triggers configured" in text
    assert "fcm.existingSecret is empty" in text
    assert "HTTP collector" not in text


def test_all_features_notes_show_the_ingress_and_no_warnings(notes):
    text = notes("-f", str(ALL_FEATURES))
    assert "https://events.example.com/" in text
    assert "WARNING" not in text
    assert "NOTE:" not in text
