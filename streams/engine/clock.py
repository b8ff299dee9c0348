"""Stream time of one partition: max event time seen less the allowed lateness."""

from __future__ import annotations


class StreamClock:
    """Moves only forward; in live mode the wall clock may push it too (idle partitions)."""

    def __init__(self, allowed_lateness_ms: int, *, replay: bool) -> None:
        self.lateness = allowed_lateness_ms
        self.replay = replay
        self.max_event_ms: int | None = None
        self.now_ms: int = 0

    def observe(self, event_time_ms: int) -> int:
        """Account for one event and return the stream time."""
        if self.max_event_ms is None or event_time_ms > self.max_event_ms:
            self.max_event_ms = event_time_ms
            self.now_ms = max(self.now_ms, event_time_ms - self.lateness)
        return self.now_ms

    def wall(self, wall_ms: int) -> int:
        """Advance with the wall clock (live mode only; replay time moves only with events)."""
        if not self.replay:
            self.now_ms = max(self.now_ms, wall_ms - self.lateness)
        return self.now_ms

    def is_late(self, event_time_ms: int) -> bool:
        """Whether an event is older than the stream time."""
        return event_time_ms < self.now_ms
