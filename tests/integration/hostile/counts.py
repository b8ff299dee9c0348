"""Counts of hostile inputs tried, dead-lettered and rejected, printed at the end of the session."""

from __future__ import annotations

from collections import Counter

COUNTS: Counter = Counter()  # (surface, "tried" | "dlq" | "rejected" | "accepted") -> n
