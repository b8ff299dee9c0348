"""A processed-records counter in a small JSON file, so a bench can see when all N were processed."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

WRITE_EVERY_S = 0.2  # often enough for a bench to stop promptly, rare enough to cost nothing


class ProgressFile:
    """Counts records and writes {"count", "first_n", "first_ts", "last_ts"} (wall-clock seconds) to `path`."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.count = 0
        self.first_ts = 0.0
        self.first_n = 0
        self.last_ts = 0.0
        self._written_at = 0.0
        self._pending = False

    def add(self, n: int) -> None:
        """Record `n` processed records."""
        if self.path is None or n <= 0:
            return
        now = time.time()
        if not self.count:
            self.first_ts, self.first_n = now, n
        self.count += n
        self.last_ts = now
        if now - self._written_at >= WRITE_EVERY_S:
            self.write()
        elif not self._pending:
            self._pending = True
            asyncio.get_running_loop().call_later(WRITE_EVERY_S, self.write)

    def write(self) -> None:
        """Replace the file atomically with the current figures."""
        if self.path is None:
            return
        self._pending = False
        self._written_at = time.time()
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {"count": self.count, "first_n": self.first_n, "first_ts": self.first_ts, "last_ts": self.last_ts}
            )
        )
        os.replace(tmp, self.path)
