"""Print the hostile-input counts at the end of the run."""

from __future__ import annotations

from tests.integration.hostile.counts import COUNTS


def pytest_terminal_summary(terminalreporter) -> None:
    if not COUNTS:
        return
    tr = terminalreporter
    tr.section("hostile input")
    surfaces = sorted({s for s, _ in COUNTS})
    tr.write_line(f"{'surface':<28} {'tried':>7} {'DLQd':>7} {'rejected':>9} {'accepted':>9}")
    for s in surfaces:
        c = [COUNTS[(s, k)] for k in ("tried", "dlq", "rejected", "accepted")]
        tr.write_line(f"{s:<28} {c[0]:>7} {c[1]:>7} {c[2]:>9} {c[3]:>9}")
