"""The `nudge` console script: the composition root, built on the Faust app's CLI."""

from __future__ import annotations

import importlib
import sys

import faust

from streams.app import create_app
from streams.commands.kafka_security import faust_credentials
from streams.settings import Settings, load_settings

# Modules under streams/commands that add subcommands (each has `register(app, settings)`).
# "help" goes last: it lists the commands the others registered.
COMMAND_MODULES: list[str] = ["engine", "worker", "explain", "ingest", "deliver", "simulate", "report", "demo", "bench",
                              "help"]  # fmt: skip


def build(settings: Settings | None = None) -> faust.App:
    """Read settings and wire the Faust app with every `nudge` command."""
    settings = settings or load_settings()
    app = create_app(
        settings.app_id,
        settings.kafka_bootstrap,
        store=settings.store,
        data_dir=settings.data_dir,
        web_port=settings.web_port,
        web_bind=settings.web_bind,
        group_instance_id=settings.group_instance_id,
        topic_partitions=settings.topic_partitions,
        broker_credentials=faust_credentials(settings),
        commit_interval_s=settings.commit_interval_ms / 1000,
    )
    for name in COMMAND_MODULES:
        importlib.import_module(f"streams.commands.{name}").register(app, settings)
    return app


def main() -> None:
    """Entry point of the `nudge` console script."""
    app = build()
    sys.exit(app.main())


if __name__ == "__main__":
    main()
