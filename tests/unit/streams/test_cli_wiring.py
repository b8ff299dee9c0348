"""The composition root passes settings through to the Faust app."""

from __future__ import annotations

import pytest

from streams.cli import build
from streams.settings import Settings


def test_pod_settings_reach_the_faust_app() -> None:
    app = build(Settings(web_bind="0.0.0.0", group_instance_id="nudge-streams-2", web_port=7001))
    assert app.conf.web_bind == "0.0.0.0"
    assert app.conf.web_port == 7001
    assert app.conf.consumer_group_instance_id == "nudge-streams-2"


def test_local_defaults_bind_loopback_without_static_membership() -> None:
    app = build(Settings())
    assert app.conf.web_bind == "127.0.0.1"
    assert app.conf.consumer_group_instance_id is None


def test_bad_setting_names_its_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGE_WEB_PORT", "not-a-port")
    with pytest.raises(ValueError, match="web_port"):
        Settings()


def test_every_env_var_the_chart_sets_is_a_setting() -> None:
    """The Helm chart configures processes only through settings that exist."""
    import re
    from pathlib import Path

    templates = Path(__file__).resolve().parents[3] / "deploy" / "helm" / "nudge" / "templates"
    names = {m for p in templates.rglob("*.yaml") for m in re.findall(r"name: NUDGE_([A-Z0-9_]+)", p.read_text())}
    assert names, "the chart sets no NUDGE_ variables: the pattern is stale"
    unknown = sorted(n for n in names if n.lower() not in Settings.model_fields)
    assert unknown == []
