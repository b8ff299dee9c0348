"""Counts per trigger x variant x event-time window, and the TriggerMetrics records with lift vs holdout."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from schemas.records import TriggerMetrics
from streams.analytics.attribution import HOLDOUT, Count
from streams.analytics.errors import BadStateError
from streams.analytics.stats import newcombe_diff

COUNTERS = ("fired", "holdout", "sent", "delivered", "opened", "clicked", "converted", "retained")
Key = tuple[str, str, int]  # trigger_id, variant, window_start_ms


@dataclass(slots=True)
class Cell:
    """The counters of one trigger x variant x window."""

    counts: dict[str, int] = field(default_factory=dict)
    suppressed: dict[str, int] = field(default_factory=dict)

    def get(self, name: str) -> int:
        return self.counts.get(name, 0)


@dataclass(slots=True)
class MetricsBoard:
    """Every cell; add Counts, merge boards, serialise to a dict, build TriggerMetrics records."""

    window_ms: int
    cells: dict[Key, Cell] = field(default_factory=dict)

    def add(self, counts: Iterable[Count]) -> set[Key]:
        """Apply counts; returns the keys that changed."""
        touched: set[Key] = set()
        for c in counts:
            key = (c.trigger_id, c.variant, c.window_start_ms)
            cell = self.cells.setdefault(key, Cell())
            if c.name == "suppressed":
                reason = c.reason or "unknown"
                cell.suppressed[reason] = cell.suppressed.get(reason, 0) + 1
            else:
                cell.counts[c.name] = cell.counts.get(c.name, 0) + 1
            touched.add(key)
        return touched

    def merge(self, other: MetricsBoard) -> None:
        """Add another board's counts (e.g. one per partition)."""
        for key, cell in other.cells.items():
            mine = self.cells.setdefault(key, Cell())
            for name, n in cell.counts.items():
                mine.counts[name] = mine.counts.get(name, 0) + n
            for reason, n in cell.suppressed.items():
                mine.suppressed[reason] = mine.suppressed.get(reason, 0) + n

    def collapsed(self) -> MetricsBoard:
        """All windows folded into one (window start 0) per trigger x variant."""
        out = MetricsBoard(window_ms=0)
        for (trigger, variant, _), cell in self.cells.items():
            out.merge(MetricsBoard(0, {(trigger, variant, 0): cell}))
        return out

    def record(self, key: Key, now_ms: int) -> TriggerMetrics:
        """The TriggerMetrics of one cell; lift: conversion of jobs sent minus the trigger's holdout conversion."""
        trigger, variant, start = key
        cell = self.cells.get(key, Cell())
        control = self.cells.get((trigger, HOLDOUT, start), Cell())
        lift = None
        if variant != HOLDOUT:
            # intention to treat: the holdout is drawn before knowing who has a device, so the treated
            # side is every job sent, delivered or not
            lift = newcombe_diff(
                cell.get("converted"), cell.get("sent"), control.get("converted"), control.get("holdout")
            )
        end = start + self.window_ms if self.window_ms else now_ms
        return TriggerMetrics(
            trigger_id=trigger,
            variant=variant,
            window_start_ms=start,
            window_end_ms=end,
            fired=cell.get("fired"),
            suppressed=dict(sorted(cell.suppressed.items())),
            holdout=cell.get("holdout"),
            sent=cell.get("sent"),
            delivered=cell.get("delivered"),
            opened=cell.get("opened"),
            clicked=cell.get("clicked"),
            converted=cell.get("converted"),
            retained=cell.get("retained"),
            holdout_converted=control.get("converted"),
            lift=None if lift is None else lift[0],
            lift_ci_low=None if lift is None else lift[1],
            lift_ci_high=None if lift is None else lift[2],
            updated_at_ms=now_ms,
        )

    def records(self, now_ms: int, keys: Iterable[Key] | None = None) -> list[TriggerMetrics]:
        """Records of the given keys (all by default), plus variants whose holdout changed, sorted."""
        wanted = set(self.cells if keys is None else keys)
        for trigger, variant, start in list(wanted):
            if variant == HOLDOUT:  # the control moved: every variant's lift in that window moved with it
                wanted.update(k for k in self.cells if k[0] == trigger and k[2] == start)
        return [self.record(k, now_ms) for k in sorted(wanted)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "w": self.window_ms,
            "c": [[t, v, s, cell.counts, cell.suppressed] for (t, v, s), cell in self.cells.items()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetricsBoard:
        try:
            cells = {(str(t), str(v), int(s)): Cell(dict(c), dict(sup)) for t, v, s, c, sup in data["c"]}
            return cls(int(data["w"]), cells)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadStateError(f"bad metrics state: {exc}") from exc


def board_from_records(records: Iterable[TriggerMetrics]) -> MetricsBoard:
    """A board rebuilt from published records; the latest update of each key wins."""
    latest: dict[Key, TriggerMetrics] = {}
    for r in records:
        key = (r.trigger_id, r.variant, r.window_start_ms)
        if key not in latest or r.updated_at_ms >= latest[key].updated_at_ms:
            latest[key] = r
    window = max((r.window_end_ms - r.window_start_ms for r in latest.values()), default=0)
    board = MetricsBoard(window_ms=window)
    for key, r in latest.items():
        board.cells[key] = Cell({n: getattr(r, n) for n in COUNTERS if getattr(r, n)}, dict(r.suppressed))
    return board
