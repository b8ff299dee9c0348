"""A/B of `nudge worker` variants on one broker and one input: events/s and CPU per event, rounds interleaved.

A variant is `name=source tree[;SETTING=value...]`: the worker runs with that tree first on PYTHONPATH (a checkout
of another commit, e.g. `git worktree add /tmp/before <commit>`) and those settings, so two versions of the code
are measured in the same sitting. Example (the local stack up):

    python -m streams.bench.ab before=/tmp/before now=. 'longer=.;NUDGE_COMMIT_INTERVAL_MS=3000' --rounds 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from streams.bench import nudge_worker, workload
from streams.bench.runner import ROCKSDB


@dataclass
class Variant:
    name: str
    env: dict[str, str]
    rates: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)  # process CPU per event, start-up included


def parse_variant(text: str) -> Variant:
    """'name=tree;K=V;...' -> a Variant (the tree first on PYTHONPATH, the settings in its environment)."""
    name, sep, spec = text.partition("=")
    if not sep or not name or not spec:
        raise ValueError(f"a variant is name=tree[;SETTING=value...], got {text!r}")
    tree, *settings = spec.split(";")
    env = {**ROCKSDB, "PYTHONPATH": str(Path(tree).resolve())}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep:
            raise ValueError(f"{text!r}: {setting!r} is not SETTING=value")
        env[key] = value
    return Variant(name, env)


def run_once(bootstrap: str, prefix: str, events: int, partitions: int, env: dict[str, str]) -> tuple[float, float]:
    """(events/s from the first to the last processed batch, CPU microseconds per event) of one worker run."""
    run = nudge_worker.worker_rate(bootstrap, prefix, events, partitions, timeout_s=900, extra_env=env)
    return run.rate, run.cpu_s / events * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.bench.ab", description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="name=tree[;SETTING=value...]")
    parser.add_argument("--bootstrap", default=os.environ.get("NUDGE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args(argv)
    variants = [parse_variant(v) for v in args.variants]
    prefix = f"bench.ab{uuid.uuid4().hex[:6]}."
    nudge_worker._create(args.bootstrap, [prefix + t for t in nudge_worker.WORKER_TOPICS], args.partitions)
    workload.publish(args.bootstrap, prefix + "behavior.events", args.events, args.users)
    for round_no in range(1, args.rounds + 1):
        for v in variants:
            rate, cpu = run_once(args.bootstrap, prefix, args.events, args.partitions, v.env)
            v.rates.append(rate)
            v.cpu_us.append(cpu)
            print(f"round {round_no}: {v.name:<12} {rate:>9,.0f} events/s {cpu:6.1f} us CPU/event", flush=True)
    print(f"{args.events:,} events of {args.users:,} users, {args.partitions} partitions, medians of {args.rounds}:")
    for v in variants:
        runs = ", ".join(f"{r:,.0f}" for r in v.rates)
        print(f"{v.name:<12} {statistics.median(v.rates):>9,.0f} events/s  "
              f"{statistics.median(v.cpu_us):6.1f} us CPU/event (start-up included)  runs {runs}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
