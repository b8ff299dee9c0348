"""Local wall-clock arithmetic in IANA zones, correct across DST gaps and overlaps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.decisions.config import MINUTE_MS, QuietHours


@lru_cache(maxsize=1024)
def zone_for(name: str | None, default: str) -> ZoneInfo:
    """The user's zone, or the default when unknown or invalid."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(default)


def _local(now_ms: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(now_ms / 1000, tz=UTC).astimezone(zone)


def _minute_of_day(now_ms: int, zone: ZoneInfo) -> int:
    local = _local(now_ms, zone)
    return local.hour * 60 + local.minute


def _instants_of(day: date, minute: int, zone: ZoneInfo) -> list[int]:
    """Instants showing wall time `day` + `minute`: two in a DST overlap; in a gap, the transition."""
    naive = datetime(day.year, day.month, day.day, minute // 60, minute % 60)
    early = int(naive.replace(tzinfo=zone, fold=0).timestamp() * 1000)
    late = int(naive.replace(tzinfo=zone, fold=1).timestamp() * 1000)
    first = min(early, late)
    if _local(first, zone).replace(tzinfo=None) == naive:
        return sorted({early, late})  # the wall time exists (twice when the clocks go back)
    # In a gap: the earliest instant whose wall time is past `naive` is the transition itself.
    lo, hi = first, max(early, late)
    while hi - lo > MINUTE_MS:
        mid = (lo + hi) // 2
        if _local(mid, zone).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return [hi - hi % MINUTE_MS]


def next_wall_time(now_ms: int, minute: int, zone: ZoneInfo) -> int:
    """The first instant at or after `now_ms` whose local wall time is `minute` after midnight."""
    today = _local(now_ms, zone).date()
    for offset in range(-1, 3):
        for at in _instants_of(today + timedelta(days=offset), minute, zone):
            if at >= now_ms:
                return at
    raise AssertionError("unreachable: a wall time recurs within three days")


def in_quiet_hours(now_ms: int, quiet: QuietHours, zone: ZoneInfo) -> bool:
    """Whether `now_ms` falls inside the local quiet window [start, end)."""
    if not quiet.enabled or quiet.start_minute == quiet.end_minute:
        return False
    minute = _minute_of_day(now_ms, zone)
    if quiet.start_minute < quiet.end_minute:
        return quiet.start_minute <= minute < quiet.end_minute
    return minute >= quiet.start_minute or minute < quiet.end_minute


def quiet_hours_end(now_ms: int, quiet: QuietHours, zone: ZoneInfo) -> int:
    """When the quiet window containing `now_ms` ends; `now_ms` itself when outside the window."""
    if not in_quiet_hours(now_ms, quiet, zone):
        return now_ms
    return next_wall_time(now_ms, quiet.end_minute, zone)


def next_send_hour(now_ms: int, hour: int, zone: ZoneInfo) -> int:
    """`now_ms` when the local hour is `hour`, else the next local `hour`:00."""
    if _local(now_ms, zone).hour == hour:
        return now_ms
    return next_wall_time(now_ms, hour * 60, zone)
