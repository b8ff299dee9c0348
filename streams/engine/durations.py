"""Durations written as "30m", "7d", "1h30m" or plain milliseconds: the one grammar of every config file."""

from __future__ import annotations

import re

UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")


def parse_duration(value: object) -> int:
    """Return the duration in milliseconds, or raise ValueError saying what was expected."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    text = value.replace(" ", "").replace("\t", "") if isinstance(value, str) else ""
    pos, total = 0, 0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += int(match.group(1)) * UNIT_MS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(text):
        raise ValueError(f"expected a duration like 30m, 1h30m, 7d or milliseconds, got {value!r}")
    return total
