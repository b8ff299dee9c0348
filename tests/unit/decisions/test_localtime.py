"""Quiet hours and local send times across zones and DST transitions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streams.decisions.config import QuietHours
from streams.decisions.localtime import in_quiet_hours, next_send_hour, next_wall_time, quiet_hours_end, zone_for

NIGHT = QuietHours(22 * 60, 8 * 60)


def ms(iso: str) -> int:
    """Epoch ms of a UTC ISO time."""
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


def iso(at_ms: int) -> str:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(
    ("zone", "now_utc", "end_utc"),
    [
        # London spring forward (2024-03-31 01:00 UTC): 23:00 GMT -> 08:00 BST is 07:00 UTC, an 8 h night
        ("Europe/London", "2024-03-30T23:00", "2024-03-31T07:00"),
        # London fall back (2024-10-27 01:00 UTC): 23:00 BST (22:00 UTC) -> 08:00 GMT, a 10 h night
        ("Europe/London", "2024-10-26T22:00", "2024-10-27T08:00"),
        # New York spring forward (2024-03-10 07:00 UTC): 23:00 EST -> 08:00 EDT = 12:00 UTC
        ("America/New_York", "2024-03-10T04:00", "2024-03-10T12:00"),
        # New York fall back (2024-11-03 06:00 UTC): 23:00 EDT -> 08:00 EST = 13:00 UTC
        ("America/New_York", "2024-11-03T03:00", "2024-11-03T13:00"),
        # half-hour offsets: Kolkata +05:30, Adelaide +10:30 in summer, Kathmandu +05:45
        ("Asia/Kolkata", "2024-06-01T17:00", "2024-06-02T02:30"),
        ("Australia/Adelaide", "2024-01-15T12:00", "2024-01-15T21:30"),
        ("Asia/Kathmandu", "2024-06-01T20:00", "2024-06-02T02:15"),
        # early morning, still inside the window: ends the same local day
        ("Asia/Tokyo", "2024-06-01T20:00", "2024-06-01T23:00"),
        ("America/Los_Angeles", "2024-06-01T07:00", "2024-06-01T15:00"),
        ("Pacific/Auckland", "2024-06-01T11:00", "2024-06-01T20:00"),
    ],
)
def test_quiet_hours_end_in_zone(zone: str, now_utc: str, end_utc: str) -> None:
    tz = zone_for(zone, "UTC")
    assert in_quiet_hours(ms(now_utc), NIGHT, tz)
    assert iso(quiet_hours_end(ms(now_utc), NIGHT, tz)) == end_utc


@pytest.mark.parametrize(
    ("zone", "now_utc"),
    [
        ("Europe/London", "2024-03-31T12:00"),
        ("America/New_York", "2024-11-03T18:00"),
        ("Asia/Kolkata", "2024-06-01T06:00"),
    ],
)
def test_daytime_is_not_quiet(zone: str, now_utc: str) -> None:
    tz = zone_for(zone, "UTC")
    assert not in_quiet_hours(ms(now_utc), NIGHT, tz)
    assert quiet_hours_end(ms(now_utc), NIGHT, tz) == ms(now_utc)


def test_end_inside_a_dst_gap_moves_to_the_transition() -> None:
    # New York has no 02:00-03:00 on 2024-03-10; a window ending 02:30 ends at the jump (07:00 UTC = 03:00 EDT)
    tz = zone_for("America/New_York", "UTC")
    quiet = QuietHours(0, 2 * 60 + 30)
    now = ms("2024-03-10T05:30")  # 00:30 EST
    assert in_quiet_hours(now, quiet, tz)
    assert iso(quiet_hours_end(now, quiet, tz)) == "2024-03-10T07:00"


def test_repeated_hour_in_overlap_ends_at_the_next_occurrence_not_tomorrow() -> None:
    # New York 2024-11-03: 01:00-02:00 happens twice; window 00:00-01:30
    tz = zone_for("America/New_York", "UTC")
    quiet = QuietHours(0, 90)
    first_pass = ms("2024-11-03T05:10")  # 01:10 EDT
    assert iso(quiet_hours_end(first_pass, quiet, tz)) == "2024-11-03T05:30"  # 01:30 EDT
    second_pass = ms("2024-11-03T06:10")  # 01:10 EST, quiet again by the wall clock
    assert iso(quiet_hours_end(second_pass, quiet, tz)) == "2024-11-03T06:30"  # 01:30 EST, not the next day


@pytest.mark.parametrize("name", [None, "", "Mars/Olympus", "../etc/passwd", "UTC+3"])
def test_unknown_or_invalid_zone_falls_back_to_default(name: str | None) -> None:
    assert zone_for(name, "Europe/Berlin").key == "Europe/Berlin"


@pytest.mark.parametrize(
    ("zone", "now_utc", "hour", "expected"),
    [
        ("Europe/London", "2024-03-30T19:00", 18, "2024-03-31T17:00"),  # next day is BST
        ("Europe/London", "2024-03-30T18:30", 18, "2024-03-30T18:30"),  # inside the hour: now
        ("Asia/Kolkata", "2024-06-01T00:00", 10, "2024-06-01T04:30"),
        ("America/New_York", "2024-11-02T23:00", 9, "2024-11-03T14:00"),  # after fall back, EST
    ],
)
def test_next_send_hour(zone: str, now_utc: str, hour: int, expected: str) -> None:
    assert iso(next_send_hour(ms(now_utc), hour, zone_for(zone, "UTC"))) == expected


def test_next_wall_time_is_never_in_the_past() -> None:
    tz = zone_for("Europe/London", "UTC")
    start = ms("2024-03-30T00:00")
    for step in range(0, 72 * 60, 37):  # every 37 minutes over three days spanning the transition
        now = start + step * 60_000
        assert next_wall_time(now, 8 * 60, tz) >= now
