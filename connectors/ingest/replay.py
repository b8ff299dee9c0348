"""`nudge replay`: publish a file's events in event-time order, at full speed or scaled real time."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from connectors.ingest.errors import InvalidRecordError
from connectors.ingest.publisher import EventPublisher
from connectors.ingest.readers import Rejected, read_events
from schemas.records import BehaviorEvent

# How many bad lines the report quotes; the count covers all of them.
KEEP_BAD_LINES = 5
# Redraw the progress bar at most this often, so drawing never costs throughput.
PROGRESS_INTERVAL_S = 0.2
BAR_WIDTH = 30


@dataclass
class ReplayReport:
    """What a replay read, published and rejected (with the first bad lines and why), and how long each phase took."""

    path: str
    read: int = 0
    published: int = 0
    rejected: int = 0
    bad: list[Rejected] = field(default_factory=list)
    read_s: float = 0.0  # reading, parsing and sorting the file in memory
    publish_s: float = 0.0  # from the first send to the last acknowledgement (the progress bar's clock)

    @property
    def elapsed_s(self) -> float:
        return self.read_s + self.publish_s

    def reject(self, bad: Rejected) -> None:
        self.rejected += 1
        if len(self.bad) < KEEP_BAD_LINES:
            self.bad.append(bad)

    def summary(self) -> str:
        """The human-readable final report: each rate says what it divides."""
        lines = [
            f"{self.path}: read and sorted {self.read:,} rows in {self.read_s:.1f} s; published {self.published:,} "
            f"in {self.publish_s:.1f} s ({rate(self.published, self.publish_s)} acknowledged by Kafka, as the bar's "
            f"last figure), {rate(self.published, self.elapsed_s)} overall; rejected {self.rejected:,}"
        ]
        lines += [f"  line {b.line_no}: {b.reason}: {b.line[:120]!r}" for b in self.bad]
        if self.rejected > len(self.bad):
            lines.append(f"  ... and {self.rejected - len(self.bad):,} more rejected lines")
        return "\n".join(lines)


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds if seconds else 0.0:,.0f} events/s"


class ReplayProgress:
    """A one-line progress bar on a text stream (stderr in the CLI): records queued for Kafka per second so far."""

    def __init__(self, out: TextIO | None, total: int) -> None:
        self.out, self.total, self.started, self.drawn = out, total, time.monotonic(), 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self.drawn >= PROGRESS_INTERVAL_S:
            self.drawn = now
            self._draw(done, rate(done, now - self.started).replace(" events", "") + " queued")

    def finish(self, published: int, seconds: float) -> None:
        """The last redraw, after the flush: what Kafka acknowledged, at the rate the summary gives."""
        self._draw(published, rate(published, seconds).replace(" events", "") + " acknowledged\n")

    def _draw(self, done: int, what: str) -> None:
        if self.out is None:
            return
        share = done / self.total if self.total else 1.0
        bar = "#" * int(share * BAR_WIDTH)
        self.out.write(f"\r[{bar:<{BAR_WIDTH}}] {done:,}/{self.total:,} {share:6.1%} {what}")
        self.out.flush()


def replay(
    path: Path,
    publisher: EventPublisher,
    *,
    fmt: str = "auto",
    speed: float | None = None,
    limit: int | None = None,
    progress: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayReport:
    """Publish every valid row of `path` in event-time order; `speed` N replays N times faster than real time.

    Rows are sorted in memory (exact order, fine for files of millions of rows).
    """
    started = time.monotonic()
    report = ReplayReport(str(path))
    events: list[tuple[int, BehaviorEvent]] = []
    for line_no, parsed in read_events(path, fmt, limit):
        report.read += 1
        if isinstance(parsed, Rejected):
            report.reject(parsed)
        else:
            events.append((line_no, parsed))
    events.sort(key=lambda pair: pair[1].event_time_ms)  # stable: ties keep file order
    bar = ReplayProgress(progress, len(events))
    delivered_before = publisher.delivered
    first_event_ms = events[0][1].event_time_ms if events else 0
    publish_started = bar.started
    report.read_s = publish_started - started
    for done, (line_no, event) in enumerate(events, start=1):
        if speed:
            due = publish_started + (event.event_time_ms - first_event_ms) / 1000 / speed
            if (wait := due - time.monotonic()) > 0:
                sleep(wait)
        try:
            publisher.send(event)
        except InvalidRecordError as exc:
            report.reject(Rejected(line_no, event.event_id, str(exc)))
        bar.update(done)
    publisher.flush()
    report.published = publisher.delivered - delivered_before
    report.publish_s = time.monotonic() - publish_started
    bar.finish(report.published, report.publish_s)
    return report
