"""The metrics board: merge, collapse, records with lift, and rebuilding from published records."""

from __future__ import annotations

from collections import Counter

from streams.analytics.attribution import DAY_MS, Count
from streams.analytics.metrics import MetricsBoard, board_from_records


def counts(trigger: str, variant: str, start: int, **named: int) -> list[Count]:
    out = []
    for name, n in named.items():
        out += [Count(trigger, variant, start, name, "cap" if name == "suppressed" else None)] * n
    return out


def test_partitions_merge_and_windows_collapse() -> None:
    a, b = MetricsBoard(DAY_MS), MetricsBoard(DAY_MS)
    a.add(counts("t", "default", 0, fired=3, sent=2, delivered=2, converted=1, suppressed=1))
    b.add(counts("t", "default", DAY_MS, fired=2, sent=2, delivered=2, converted=2))
    b.add(counts("t", "holdout", DAY_MS, fired=4, holdout=4, converted=1))
    a.merge(b)
    assert [r.fired for r in a.records(0)] == [3, 2, 4]
    total = {r.variant: r for r in a.collapsed().records(5)}
    assert (total["default"].fired, total["default"].delivered, total["default"].converted) == (5, 4, 3)
    assert total["default"].suppressed == {"cap": 1}
    assert total["default"].lift == 3 / 4 - 1 / 4


def test_a_holdout_change_republishes_every_variant_of_that_window() -> None:
    board = MetricsBoard(DAY_MS)
    board.add(counts("t", "a", 0, delivered=1) + counts("t", "b", 0, delivered=1) + counts("u", "a", 0, delivered=1))
    changed = board.add(counts("t", "holdout", 0, holdout=1))
    assert [(r.trigger_id, r.variant) for r in board.records(1, changed)] == [("t", "a"), ("t", "b"), ("t", "holdout")]


def test_rebuilt_from_records_the_latest_update_wins() -> None:
    board = MetricsBoard(DAY_MS)
    board.add(counts("t", "a", 0, fired=1))
    old = board.records(10)
    board.add(counts("t", "a", 0, fired=1, opened=1))
    new = board.records(20)
    rebuilt = board_from_records(new + old)
    assert rebuilt.records(20) == new


def test_text_report_rates_use_the_right_bases() -> None:
    from streams.analytics.report import ReportData, text_report

    board = MetricsBoard(DAY_MS)
    board.add(counts("t", "a", 0, fired=10, sent=10, delivered=5, opened=4, converted=2))
    board.add(counts("t", "holdout", 0, fired=10, holdout=10, converted=1))
    data = ReportData("test", board.collapsed().records(0), {}, Counter(), [])
    row = next(line for line in text_report(data) if line.startswith("t/a ") and "%" in line)
    assert "80.0%" in row  # 4 opens of 5 delivered
    assert "20.0%" in row  # 2 conversions of 10 sent
    assert "+10.0 pts" in row
