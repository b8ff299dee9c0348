"""Run every measurement side by side on one broker, take medians, write BENCHMARKS.md and JSON."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from streams.bench import raw_consumers, workload

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    """One measurement: its runs and the median, in `unit`."""

    name: str
    group: str
    unit: str
    runs: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")


class Progress:
    """One status line on stderr, rewritten in place when stderr is a terminal."""

    def __init__(self, total_steps: int) -> None:
        self.total = total_steps
        self.done = 0
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()

    def step(self, label: str) -> None:
        elapsed = time.monotonic() - self.started
        line = f"[bench {self.done}/{self.total} {elapsed:5.0f}s] {label}"
        sys.stderr.write(("\r\033[K" + line) if self.tty else line + "\n")
        sys.stderr.flush()

    def finish_step(self) -> None:
        self.done += 1


def run_faust_peer(mode: str, bootstrap: str, topic: str, count: int, partitions: int, timeout_s: float = 300) -> float:
    """Start the naive/bare Faust peer as its own process and return its events/s."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{mode}-"))
    result_file = workdir / "result.json"
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_COUNT": str(count),
        "BENCH_RESULT_FILE": str(result_file),
        "BENCH_APP_ID": f"bench-{mode}-{uuid.uuid4().hex[:8]}",
        "BENCH_TOPIC": topic,
        "BENCH_PARTITIONS": str(partitions),
        "BENCH_DATA_DIR": str(workdir / "data"),
        "BENCH_WEB_PORT": str(_free_port()),
        "NUDGE_KAFKA_BOOTSTRAP": bootstrap,
    }
    log = (workdir / "worker.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.bench.faust_peers", "worker", "-l", "warn"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while not result_file.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"faust {mode} peer exited early; log: {workdir / 'worker.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"faust {mode} peer did not finish in {timeout_s}s; log: {workdir / 'worker.log'}")
            time.sleep(0.2)
        time.sleep(0.1)  # the writer may still be flushing the file
        return float(json.loads(result_file.read_text())["rate"])
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        fut.result(timeout=30)


def _delete_topic(bootstrap: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.delete_topics([topic]).values():
        with contextlib.suppress(Exception):
            fut.result(timeout=30)


Measurement = Callable[[str, str, int, int], float]


def measurements() -> list[tuple[str, str, str, Measurement]]:
    """(name, group, unit, fn(bootstrap, topic, count, partitions)) for every throughput entry."""

    def confluent(b: str, t: str, n: int, _p: int) -> float:
        return raw_consumers.confluent_rate(b, t, n)

    def aiokafka(b: str, t: str, n: int, _p: int) -> float:
        return raw_consumers.aiokafka_rate(b, t, n)

    def bare(b: str, t: str, n: int, p: int) -> float:
        return run_faust_peer("bare", b, t, n, p)

    def naive(b: str, t: str, n: int, p: int) -> float:
        return run_faust_peer("naive", b, t, n, p)

    return [
        ("raw confluent-kafka consumer + decode", "limit", "events/s", confluent),
        ("raw aiokafka consumer + decode", "limit", "events/s", aiokafka),
        ("bare Faust task iterating the topic channel", "ceiling", "events/s", bare),
        ("naive Faust agent, table update per event", "peer", "events/s", naive),
    ]


def run(bootstrap: str, count: int, users: int, repeats: int, partitions: int) -> list[Result]:
    """Publish the workload once and run each measurement `repeats` times, interleaved."""
    entries = measurements()
    progress = Progress(1 + repeats * len(entries))
    topic = f"bench.events.{uuid.uuid4().hex[:8]}"
    results = [Result(name, group, unit) for name, group, unit, _ in entries]
    try:
        progress.step(f"publishing {count:,} events for {users:,} users to {topic}")
        _create_topic(bootstrap, topic, partitions)
        workload.publish(bootstrap, topic, count, users)
        progress.finish_step()
        for round_no in range(1, repeats + 1):
            for (name, _group, _unit, fn), result in zip(entries, results, strict=True):
                progress.step(f"round {round_no}/{repeats}: {name}")
                result.runs.append(fn(bootstrap, topic, count, partitions))
                progress.finish_step()
    finally:
        _delete_topic(bootstrap, topic)
        sys.stderr.write("\n")
    return results


def versions() -> dict[str, str]:
    names = ["faust-streaming", "aiokafka", "confluent-kafka", "fastavro", "redis", "firebase-admin"]
    found = {n: metadata.version(n) for n in names}
    found["python"] = platform.python_version()
    found["kafka broker"] = os.environ.get("KAFKA_VERSION", "unknown")
    return found


def write_reports(results: list[Result], count: int, repeats: int, out_md: Path, out_json: Path) -> None:
    """Write the table with ratios to the limit (raw aiokafka) and to the peer (naive Faust)."""
    by_name = {r.name: r for r in results}
    limit = by_name.get("raw aiokafka consumer + decode")
    peer = by_name.get("naive Faust agent, table update per event")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{count:,} events, median of {repeats} runs, all on one local broker in one run.",
        "",
        f"Machine: {machine}. Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        "",
        "| measurement | group | median | runs | vs raw aiokafka | vs naive Faust |",
        "|---|---|---:|---|---:|---:|",
    ]
    for r in results:
        ratio_limit = f"{r.median / limit.median:.0%}" if limit and r.unit == limit.unit else ""
        ratio_peer = f"{r.median / peer.median:.1f}x" if peer and r.unit == peer.unit else ""
        runs = ", ".join(f"{v:,.0f}" if v >= 100 else f"{v:.3g}" for v in r.runs)
        lines.append(f"| {r.name} | {r.group} | {r.median:,.0f} {r.unit} | {runs} | {ratio_limit} | {ratio_peer} |")
    out_md.write_text("\n".join(lines) + "\n")
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(
        json.dumps(
            {
                "count": count,
                "repeats": repeats,
                "machine": machine,
                "versions": versions(),
                "results": [{**r.__dict__, "median": r.median} for r in results],
            },
            indent=2,
        )
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="nudge bench", description=__doc__)
    parser.add_argument("--bootstrap", default=os.environ.get("NUDGE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", default=str(ROOT / "bench-results" / "bench.json"))
    args = parser.parse_args(argv)
    results = run(args.bootstrap, args.events, args.users, args.repeats, args.partitions)
    write_reports(results, args.events, args.repeats, Path(args.out), Path(args.json))
    print(Path(args.out).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
