"""`nudge validate FILE` and the trigger engine's agents (replay mode via NUDGE_REPLAY=true)."""

from __future__ import annotations

import sys
from pathlib import Path

import faust
from faust.cli import argument, option

from streams.decisions import load_config
from streams.decisions.errors import DecisionConfigError
from streams.engine.config import load_catalogue
from streams.engine.errors import TriggerConfigError
from streams.fastpath.transaction import transactional_id
from streams.pipeline.agents import install
from streams.pipeline.errors import StartupError
from streams.pipeline.firings import policies
from streams.pipeline.samples import Preview, missing_templates, preview
from streams.settings import Settings


def validate_file(path: str) -> list[str]:
    """Every error of a trigger file, each with its path; empty when the file is valid."""
    try:
        load_catalogue(Path(path).read_text())
    except OSError as exc:
        return [f"{path}: {exc.strerror or exc}"]
    except TriggerConfigError as exc:
        return exc.errors
    return []


def validate_copy(triggers_path: str, decisions_path: str) -> tuple[list[Preview], list[str]]:
    """Render every template of the decisions file for sample firings of the triggers; (previews, errors)."""
    try:
        catalogue = load_catalogue(Path(triggers_path).read_text())
        config = load_config(decisions_path)
    except (OSError, TriggerConfigError, DecisionConfigError) as exc:
        return [], [str(exc)]
    previews = preview(catalogue, config)
    errors = [
        f"{decisions_path}: templates.{t}: no template for this trigger" for t in missing_templates(catalogue, config)
    ]
    for p in previews:
        errors += [f"{decisions_path}: templates.{p.trigger_id}.{p.variant}.{p.locale} [{p.sample}]: {problem}"
                   f"\n    title: {p.title}\n    body:  {p.body}" for problem in p.problems]  # fmt: skip
    return previews, errors


def register(app: faust.App, settings: Settings) -> None:
    """Add `validate` and install the engine agents from the configured trigger file."""

    @app.command(
        argument("path"),
        option("--decisions", default=settings.decisions_file, show_default=True,
               help="the decisions file whose templates are rendered against sample firings of each trigger"),
        option("--show", is_flag=True, default=False, help="print every rendered sample, not only the problems"),
    )  # fmt: skip
    async def validate(self: object, path: str, decisions: str, show: bool) -> None:
        """Check a triggers.yaml file, then render every template for sample firings and check what a person reads."""
        errors = validate_file(path)
        previews: list[Preview] = []
        if not errors:
            previews, errors = validate_copy(path, decisions)
        if show:
            for p in previews:
                image = f"  [image {p.image_url}]" if p.image_url else ""
                print(f"{p.trigger_id}/{p.variant}/{p.locale} ({p.sample}): {p.title} | {p.body}{image}")
        for error in errors:
            print(error, file=sys.stderr)
        if errors:
            print(f"{path}: {len(errors)} error(s)", file=sys.stderr)
            raise SystemExit(1)
        print(f"{path}: ok; {decisions}: {len(previews)} sample pushes rendered, none with a problem")

    try:
        catalogue = load_catalogue(Path(settings.triggers_file).read_text())
        config = load_config(settings.decisions_file)
        policies(catalogue)
    except (OSError, TriggerConfigError, DecisionConfigError, StartupError) as exc:
        problem = exc
        source = settings.triggers_file if isinstance(exc, OSError | TriggerConfigError | StartupError) else ""

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
        progress_file=settings.progress_file,
        cache_mb=settings.state_cache_mb,
        transactional_id=transactional_id(settings.app_id, settings.web_port, settings.transactional_id)
        if settings.processing_guarantee == "exactly_once"
        else None,
    )
