"""The `nudge` console script: the composition root, built on the Faust app's CLI."""

from __future__ import annotations

import sys

from streams.app import create_app
from streams.settings import load_settings


def build():
    """Read settings and wire the Faust app with every `nudge` command."""
    settings = load_settings()
    app = create_app(
        settings.app_id,
        settings.kafka_bootstrap,
        store=settings.store,
        data_dir=settings.data_dir,
        web_port=settings.web_port,
        topic_partitions=settings.topic_partitions,
    )
    return app


def main() -> None:
    """Entry point of the `nudge` console script."""
    app = build()
    sys.exit(app.main())
