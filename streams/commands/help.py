"""`nudge --help`: Nudge's commands first, each with the NUDGE_* settings it reads; Faust's own commands after."""

from __future__ import annotations

import types
from typing import Any

import click
import faust
from faust.cli.faust import cli

from streams.commands.worker import WORKER_SETTINGS
from streams.settings import Settings

ABOUT = (
    "Nudge: behaviour events on Kafka in, timely personalised push notifications out.\n\n"
    "Every setting is a NUDGE_* environment variable (a prefix ending in _* stands for a group); "
    "`nudge COMMAND --help` shows a command's options. The global options are Faust's (`-l info` for logs)."
)
# The Nudge commands in the order a newcomer meets them, each with the settings it reads: a field of
# Settings, or a prefix ending in "_" for a group of them (kafka_ = the bootstrap servers and TLS/SASL).
COMMANDS: dict[str, tuple[str, ...]] = {
    "demo": (),
    "topics": ("kafka_", "topic_prefix", "topic_partitions"),
    "worker": ("kafka_", *WORKER_SETTINGS),
    "deliver": ("kafka_", "topic_prefix", "redis_url", "delivery_", "fcm_", "webhook_"),
    "fcm-local": (),
    "collect": ("kafka_", "topic_prefix", "schema_registry_url", "collector_", "ingest_"),
    "replay": ("kafka_", "topic_prefix", "schema_registry_url", "ingest_"),
    "simulate": ("kafka_", "topic_prefix"),
    "validate": ("decisions_file",),
    "tail": ("kafka_", "topic_prefix", "schema_registry_url"),
    "explain": ("kafka_", "topic_prefix"),
    "report": ("kafka_", "topic_prefix"),
    "bench": ("kafka_bootstrap", "redis_url"),
}


def settings_of(command: str) -> list[str]:
    """The NUDGE_* names a command reads, groups as NUDGE_GROUP_*."""
    return [f"NUDGE_{key.upper()}*" if key.endswith("_") else f"NUDGE_{key.upper()}" for key in COMMANDS[command]]


def fields_named(key: str) -> list[str]:
    """The Settings fields a COMMANDS entry stands for."""
    return [name for name in Settings.model_fields if (name.startswith(key) if key.endswith("_") else name == key)]


def format_commands(self: click.Group, ctx: click.Context, formatter: click.HelpFormatter) -> None:
    """Nudge's commands with their settings, then the rest (Faust's own) by name only."""
    rows = []
    for name in COMMANDS:
        command = self.get_command(ctx, name)
        if command is None:
            continue
        names = settings_of(name)
        rows.append((name, command.get_short_help_str(200) + (f"\n\nsettings: {', '.join(names)}" if names else "")))
    with formatter.section("Nudge commands"):
        formatter.write_dl(rows)
    others = [(n, self.commands[n].get_short_help_str(80)) for n in sorted(self.commands) if n not in COMMANDS]
    with formatter.section("Faust's own commands (tables, agents, models of the worker's app)"):
        formatter.write_dl(others)


def format_options(self: click.Group, ctx: click.Context, formatter: click.HelpFormatter) -> None:
    """The commands before the (Faust's) global options."""
    self.format_commands(ctx, formatter)
    click.Command.format_options(self, ctx, formatter)


def register(app: faust.App, settings: Settings) -> None:
    """Give `nudge --help` Nudge's text and command list (runs after every other command module)."""
    group: Any = cli
    group.help = ABOUT
    group.format_commands = types.MethodType(format_commands, cli)
    group.format_options = types.MethodType(format_options, cli)
