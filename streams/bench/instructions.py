"""Instructions per event of the in-process per-event path, counted by valgrind: repeatable where timings are not.

Each source tree's own `engine_costs.in_process_rate` runs under `valgrind --tool=callgrind` (tens of times
slower, so keep the input small); the workload's generation and the start-up are counted apart and taken off. A
tree is any checkout (`git worktree add /tmp/before <commit>`), so two versions compare in one sitting:

    python -m streams.bench.instructions /tmp/before . --events 10000 --users 5000
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from streams.fastpath.consumer import GC_THRESHOLDS

# The collector as the worker runs it (fastpath.consumer.GC_THRESHOLDS), set before older trees' loops too
# (theirs did not set it themselves), so both sides count the same collections.
PROGRAMS = {
    "loop": f"import gc; gc.set_threshold{GC_THRESHOLDS}; from streams.bench import engine_costs; "
    "engine_costs.in_process_rate({events}, {users})",
    "input": "from streams.bench import workload; list(workload.events({events}, {users}))",
}


def count(tree: Path, program: str) -> int:
    """Instructions valgrind counts for `python -c program` with `tree` first on the path."""
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", program],
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind: {out.stderr[-500:]}")
    return int(found.group(1))


def per_event(tree: Path, events: int, users: int) -> float:
    """(loop(n) - loop(0)) - (input(n) - input(0)), per event: the per-event path alone."""
    runs = {}
    for name, program in PROGRAMS.items():
        for n in (events, 0):
            runs[name, n] = count(tree, program.format(events=n, users=users))
    loop = runs["loop", events] - runs["loop", 0]
    made = runs["input", events] - runs["input", 0]
    return (loop - made) / events


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.bench.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path, help="source trees (checkouts) to count")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=5_000)
    args = parser.parse_args(argv)
    for tree in args.trees:
        print(f"{tree}: {per_event(tree.resolve(), args.events, args.users):,.0f} instructions per event", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
