"""`nudge validate FILE` and the trigger engine's agents (replay mode via NUDGE_REPLAY=true)."""

from __future__ import annotations

import sys
from pathlib import Path

import faust
from faust.cli import argument

from streams.decisions import load_config
from streams.decisions.errors import ConfigError as DecisionConfigError
from streams.engine.config import load_catalogue
from streams.engine.errors import ConfigError
from streams.pipeline.agents import install
from streams.pipeline.errors import StartupError
from streams.pipeline.firings import policies
from streams.settings import Settings


def validate_file(path: str) -> list[str]:
    """Every error of a trigger file, each with its path; empty when the file is valid."""
    try:
        load_catalogue(Path(path).read_text())
    except OSError as exc:
        return [f"{path}: {exc.strerror or exc}"]
    except ConfigError as exc:
        return exc.errors
    return []


def register(app: faust.App, settings: Settings) -> None:
    """Add `validate` and install the engine agents from the configured trigger file."""

    @app.command(argument("path"))
    async def validate(self: object, path: str) -> None:
        """Check a triggers.yaml file and print every error with its path."""
        errors = validate_file(path)
        for error in errors:
            print(error, file=sys.stderr)
        if errors:
            print(f"{path}: {len(errors)} error(s)", file=sys.stderr)
            raise SystemExit(1)
        print(f"{path}: ok")

    try:
        catalogue = load_catalogue(Path(settings.triggers_file).read_text())
        config = load_config(settings.decisions_file)
        policies(catalogue)
    except (OSError, ConfigError, DecisionConfigError, StartupError) as exc:
        problem = exc
        source = settings.triggers_file if isinstance(exc, OSError | ConfigError | StartupError) else ""

        @app.task
        async def refuse_to_run() -> None:
            # A worker with a broken trigger or decisions file must fail at start, not run without them.
            raise StartupError(f"{source}: {problem}" if source else str(problem))

        return
    install(
        app,
        catalogue,
        config,
        prefix=settings.topic_prefix,
        replay=settings.replay,
        allowed_lateness_ms=settings.allowed_lateness_ms,
        tick_seconds=settings.tick_ms / 1000,
        partitions=settings.topic_partitions,
        max_value_bytes=settings.dlq_max_value_bytes,
        attribution=settings.attribution,
        attribution_events=settings.attribution_events,
        fast_path=settings.fast_path,
        progress_file=settings.progress_file,
    )
