"""The peer comparisons BENCHMARKS.md states under its table: the full worker against Quix and the raw limit."""

from __future__ import annotations

from typing import Any

FULL_WORKER = "Nudge worker ("  # the full worker's row starts so
QUIX_STATEFUL = "Quix Streams, stateful"
RAW_CONFLUENT = "raw confluent-kafka consumer + decode"
# (what, reference row, target ratio, how the ratio reads)
TARGETS = (
    ("Quix Streams stateful", QUIX_STATEFUL, 2.0, "x"),
    ("raw confluent-kafka + decode", RAW_CONFLUENT, 0.25, "%"),
)


def lines(results: list[Any]) -> list[str]:
    """One line per comparison of the full worker's median with a peer's median, same run, and its target."""
    full = next((r for r in results if r.name.startswith(FULL_WORKER) and r.runs), None)
    if full is None:
        return []
    out = []
    for what, name, target, style in TARGETS:
        peer = next((r for r in results if r.name.startswith(name) and r.runs), None)
        if peer is None:
            continue
        ratio = full.median / peer.median
        shown, wanted = (f"{ratio:.2f}x", f"{target:g}x") if style == "x" else (f"{ratio:.0%}", f"{target:.0%}")
        verdict = "met" if ratio >= target else "not met"
        out.append(f"- Full Nudge worker vs {what}: {shown} (target >= {wanted}: {verdict}).")
    return ["", "Same run, medians:", *out] if out else []
