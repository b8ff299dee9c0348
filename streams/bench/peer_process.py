"""A peer as its own process: count its events, write its rate to a file, and wait for that file."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


class RateCounter:
    """Counts events; at `count` writes {"rate", "seen", "seconds"} (first to last event) and calls `on_done`."""

    def __init__(self, count: int, result_file: str, on_done: Callable[[], None] | None = None) -> None:
        self.count = count
        self.result_file = result_file
        self.on_done = on_done
        self.seen = 0
        self.started = 0.0

    def tick(self) -> None:
        if self.seen == 0:
            self.started = time.perf_counter()
        self.seen += 1
        if self.seen == self.count and self.result_file:
            elapsed = time.perf_counter() - self.started
            with open(self.result_file, "w") as out:
                json.dump({"rate": self.count / elapsed, "seen": self.seen, "seconds": elapsed}, out)
            if self.on_done is not None:
                self.on_done()


def rate_of(label: str, args: list[str], env: dict[str, str], cwd: Path, workdir: Path, timeout_s: float) -> float:
    """Run a peer that writes workdir/result.json (its env says so); its rate, then SIGTERM it."""
    result = workdir / "result.json"
    log_path = workdir / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout_s
            while not result.exists():
                if proc.poll() is not None:
                    raise RuntimeError(f"the {label} peer exited early; log: {log_path}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the {label} peer did not finish in {timeout_s}s; log: {log_path}")
                time.sleep(0.2)
            time.sleep(0.1)  # the writer may still be flushing the file
            return float(json.loads(result.read_text())["rate"])
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
