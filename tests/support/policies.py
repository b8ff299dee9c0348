"""Decision policies for tests that must send the same at any hour of the day."""

from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[2] / "streams" / "templates" / "decisions.yaml"
QUIET = 'quiet_hours: {start: "22:00", end: "08:00"}'


def write_without_quiet_hours(path: Path) -> Path:
    """Write the shipped decisions file with quiet hours switched off; return its path."""
    policies = SHIPPED.read_text()
    assert QUIET in policies, "decisions.yaml changed: update tests/support/policies.py"
    path.write_text(policies.replace(QUIET, QUIET[:-1] + ", enabled: false}"))
    return path
