"""`nudge worker`: Faust's worker command, with Nudge's settings in its help and `--exit-when-caught-up`."""

from __future__ import annotations

from typing import Any

import click
import faust
from faust.cli.faust import cli

from streams.pipeline.catch_up import CatchUp, install_catch_up
from streams.settings import Settings

EXIT_FLAG = "--exit-when-caught-up"
# The settings the stream worker reads, with what each does (`nudge worker --help` lists them).
WORKER_SETTINGS: dict[str, str] = {
    "triggers_file": "the triggers (`nudge validate FILE` checks one)",
    "decisions_file": "policies and message templates",
    "replay": "event time moves only with events (history, backtests); false: also with the wall clock",
    "exit_when_caught_up": f"replay mode: exit 0 once every input partition is committed to its end ({EXIT_FLAG})",
    "allowed_lateness_ms": "how far behind its partition's stream time an event may be and still count",
    "web_port": "/metrics, /health and /ready (ready once tables recovered; caught_up in replay mode)",
    "web_bind": "address of that web server",
    "topic_prefix": "prefix of every topic name",
    "topic_partitions": "partitions of the topics the worker creates",
    "commit_interval_ms": "how often offsets are committed (state reaches the changelog just before)",
    "processing_guarantee": "at_least_once, or exactly_once (outputs, state and offsets in one transaction per commit)",
    "transactional_id": "exactly_once: this worker's id, stable across its restarts (default: app id, host, web port)",
    "tick_ms": "live mode: how often idle partitions' stream time follows the wall clock",
    "attribution": "feedback attribution and analytics.trigger_metrics in this worker",
    "attribution_events": "touched (users pushed within the horizon) or all events to attribution",
    "store": "table store: memory:// or rocksdb://",
    "data_dir": "where the table store keeps its files",
    "group_instance_id": "static group membership (the pod name)",
    "app_id": "the consumer group and the prefix of the worker's internal topics",
    "dlq_max_value_bytes": "bigger input records go to the dead-letter topic",
    "progress_file": "where the engine writes how many records it processed (read by `nudge bench`)",
    "state_cache_mb": "memory for decoded user records, all partitions together (the store holds every user)",
}


def env_name(field: str) -> str:
    return "NUDGE_" + field.upper()


def worker_epilog(settings: Settings) -> str:
    """Every NUDGE_* setting the worker reads, with its current value and what it does."""
    lines = ["Nudge settings (environment; current value in brackets):", ""]
    for name, what in WORKER_SETTINGS.items():
        lines.append(f"{env_name(name)} [{getattr(settings, name)}]: {what}")
    lines += ["", "Kafka and its TLS/SASL: NUDGE_KAFKA_BOOTSTRAP, NUDGE_KAFKA_SECURITY_PROTOCOL, NUDGE_KAFKA_SASL_*,"
              " NUDGE_KAFKA_SSL_CAFILE."]  # fmt: skip
    return "\n\n".join(lines)  # click keeps paragraphs; one a line


def register(app: faust.App, settings: Settings) -> None:
    """Watch for the end of the input in replay mode, and describe Nudge's worker in `nudge worker --help`."""
    watch: CatchUp | None = install_catch_up(app, exit_when_caught_up=settings.exit_when_caught_up) if settings.replay \
        else None  # fmt: skip

    def exit_when_caught_up(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if not value:
            return
        if watch is None:
            raise click.BadParameter("needs replay mode (NUDGE_REPLAY=true): a live worker never reaches an end")
        watch.exit_when_caught_up = True

    command: Any = cli.commands["worker"]
    command.short_help = "Run the Nudge stream worker: triggers, decisions and attribution (Faust's worker)."
    command.help = (
        "Run the Nudge stream worker: triggers, decisions and attribution on Faust (the options below are "
        "Faust's; Nudge's own settings follow them)."
    )
    command.epilog = worker_epilog(settings)
    command.params = [p for p in command.params if p.name != "exit_when_caught_up"]  # build() may run again
    command.params.append(click.Option([EXIT_FLAG], is_flag=True, default=False, expose_value=False,
                                       callback=exit_when_caught_up, is_eager=False,
                                       help="Replay mode: exit 0 once every input partition is committed to its end "
                                            "(backtests)."))  # fmt: skip
