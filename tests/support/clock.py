"""A fake clock for pure-engine tests: time moves only when a test says so."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FakeClock:
    """Milliseconds since the epoch, advanced by hand."""

    now_ms: int = 1_700_000_000_000

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> int:
        """Move time forward by `ms` and return the new time."""
        if ms < 0:
            raise ValueError("a clock does not go backwards")
        self.now_ms += ms
        return self.now_ms
