"""Readiness follows Faust's own recovery state."""

from __future__ import annotations

import faust

from streams.pipeline.web import is_ready


def test_ready_only_once_recovery_completed_and_not_while_restoring_or_rebalancing() -> None:
    app = faust.App("ready-test", broker="kafka://127.0.0.1:1", autodiscover=False)
    assert not is_ready(app)  # nothing recovered yet
    app.tables.recovery.completed.set()
    assert is_ready(app)
    app.in_recovery = True
    assert not is_ready(app)
    app.in_recovery, app.rebalancing = False, True
    assert not is_ready(app)
