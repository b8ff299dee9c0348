"""The shipped decision policies with quiet hours off: live measurements must send the same at any hour."""

from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[1] / "templates" / "decisions.yaml"
QUIET = 'quiet_hours: {start: "22:00", end: "08:00"}'


def write_without_quiet_hours(path: Path) -> Path:
    """Write the shipped decisions file with quiet hours switched off; return its path."""
    policies = SHIPPED.read_text()
    if QUIET not in policies:
        raise RuntimeError(f"{SHIPPED} no longer has {QUIET!r}: update {__file__}")
    path.write_text(policies.replace(QUIET, QUIET[:-1] + ", enabled: false}"))
    return path
