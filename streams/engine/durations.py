"""Durations written as "30m", "7d", "1h30m" or plain milliseconds."""

from __future__ import annotations

import re

UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")


def parse_duration(value: object) -> int:
    """Return the duration in milliseconds, or raise ValueError."""
    if isinstance(value, bool):
        raise ValueError("expected a duration")
    if isinstance(value, int) and value >= 0:
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a duration")
    text = value.strip().replace(" ", "")
    pos, total = 0, 0
    for match in _PART.finditer(text):
        if match.start() != pos:
            raise ValueError("expected a duration")
        total += int(match.group(1)) * UNIT_MS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError("expected a duration")
    return total
