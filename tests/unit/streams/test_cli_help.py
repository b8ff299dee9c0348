"""`nudge --help` lists Nudge's commands first with their settings; worker and replay say what they do."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from faust.cli.faust import cli

from streams.cli import build
from streams.commands.help import COMMANDS, fields_named
from streams.commands.worker import WORKER_SETTINGS
from streams.settings import Settings


def help_of(*args: str, settings: Settings | None = None) -> str:
    build(settings or Settings())
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def test_nudge_commands_come_first_with_their_settings_then_faust_commands() -> None:
    text = help_of()
    assert "Welcome" not in text and "faust-streaming.github.io" not in text
    nudge, faust_own = text.index("Nudge commands:"), text.index("Faust's own commands")
    assert nudge < text.index("Options:") and nudge < faust_own
    listed = text[nudge:faust_own]
    for name in COMMANDS:
        assert f"\n  {name} " in listed, name
    assert "settings: NUDGE_KAFKA_*, NUDGE_TOPIC_PREFIX, NUDGE_SCHEMA_REGISTRY_URL, NUDGE_COLLECTOR_*" in " ".join(
        listed.split()
    )
    for faust_command in ("agents", "tables", "livecheck", "send", "reset"):
        assert f"\n  {faust_command} " in text[faust_own:] and f"\n  {faust_command} " not in listed


def test_every_setting_is_read_by_a_listed_command_and_every_listed_setting_exists() -> None:
    listed = {field for keys in COMMANDS.values() for key in keys for field in fields_named(key)}
    assert set(Settings.model_fields) - listed == set()
    assert [key for keys in COMMANDS.values() for key in keys if not fields_named(key)] == []


def test_worker_help_names_nudges_settings_with_their_values() -> None:
    text = " ".join(help_of("worker", settings=Settings(replay=True, allowed_lateness_ms=5000)).split())
    for name in WORKER_SETTINGS:
        assert f"NUDGE_{name.upper()} [" in text, name
    assert "NUDGE_REPLAY [True]" in text and "NUDGE_ALLOWED_LATENESS_MS [5000]" in text
    assert "--exit-when-caught-up" in text and "NUDGE_WEB_PORT [6066]" in text


def test_exit_when_caught_up_needs_replay_mode() -> None:
    build(Settings(replay=False))
    result = CliRunner().invoke(cli, ["worker", "--exit-when-caught-up"])
    assert result.exit_code != 0 and "needs replay mode (NUDGE_REPLAY=true)" in result.output


@pytest.mark.parametrize("words", ["behavior.events", "NUDGE_KAFKA_BOOTSTRAP", "sorted by event time in memory"])
def test_replay_help_says_where_it_publishes_and_that_it_sorts_in_memory(words: str) -> None:
    assert words in " ".join(help_of("replay").split())
