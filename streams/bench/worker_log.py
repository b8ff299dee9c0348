"""What a worker's Faust log says about its recovery: when it ran and which changelog offsets it read from."""

from __future__ import annotations

import re
from datetime import datetime

_STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})")
# A row of Faust's recovery log tables: "│ topic │ partition │ offset │" (the topic is "〃" when repeated).
_ROW = re.compile(r"^[│|]\s*(\S+)\s*[│|]\s*(\d+)\s*[│|]\s*(-?\d+)\s*[│|]\s*$")
RECOVERY_BEGIN = "Restoring state from changelog topics"
RECOVERY_END = "Done reading from changelog topics"


def stamp_of(log: str, needle: str) -> float | None:
    """Unix time of the first log line containing `needle`."""
    for line in log.splitlines():
        if needle in line and (m := _STAMP.match(line)):
            return datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


def recovery_seconds(log: str) -> float | None:
    """Seconds between Faust's first 'Restoring state' and 'Done reading' lines (None: not both there yet)."""
    begin, end = stamp_of(log, RECOVERY_BEGIN), stamp_of(log, RECOVERY_END)
    return None if begin is None or end is None else max(end - begin, 0.0)


def offset_table(log: str, title: str) -> dict[tuple[str, int], int]:
    """The first Faust log table titled `title` (e.g. 'Reading Starts At - Active', 'Highwater - Active')."""
    lines = log.splitlines()
    start = next((i for i, line in enumerate(lines) if title in line), None)
    found: dict[tuple[str, int], int] = {}
    if start is None:
        return found
    topic = ""
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if _STAMP.match(stripped):
            break  # the next log record: the table ended
        if m := _ROW.match(stripped):
            topic = topic if m.group(1) == "〃" else m.group(1)
            found[(topic, int(m.group(2)))] = int(m.group(3))
    return found


def changelog_reads(log: str, suffix: str = "-changelog") -> dict[tuple[str, int], tuple[int, int]]:
    """(start, last) offsets of every active changelog partition the worker's first recovery read.

    Both as Faust logs them: the start is the last offset already in the store (-1: none), the highwater
    the partition's last offset, so the records read are last - start.
    """
    starts = offset_table(log, "Reading Starts At - Active")
    highs = offset_table(log, "Highwater - Active")
    return {tp: (start, highs.get(tp, start)) for tp, start in starts.items() if tp[0].endswith(suffix)}
