"""Run every measurement side by side on one broker, take medians, write BENCHMARKS.md and JSON."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from streams.bench import (
    comparisons,
    engine_costs,
    latency,
    nudge_worker,
    peer_process,
    quix_peer,
    raw_consumers,
    workload,
)
from streams.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
ROCKSDB = {"NUDGE_STORE": "rocksdb://"}  # the chart's store: the worker is compared on the state its peers keep


@dataclass
class Figure:
    """One measurement: its runs and the median, in `unit`."""

    name: str
    group: str
    unit: str
    runs: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.runs) if self.runs else float("nan")


class BenchProgress:
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
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_COUNT": str(count),
        "BENCH_RESULT_FILE": str(workdir / "result.json"),
        "BENCH_APP_ID": _app_id(f"bench-{mode}"),
        "BENCH_TOPIC": topic,
        "BENCH_PARTITIONS": str(partitions),
        "BENCH_DATA_DIR": str(workdir / "data"),
        "BENCH_WEB_PORT": str(free_port()),
        "NUDGE_KAFKA_BOOTSTRAP": bootstrap,
    }
    args = [sys.executable, "-m", "streams.bench.faust_peers", "worker", "-l", "info"]
    return peer_process.rate_of(f"faust {mode}", args, env, ROOT, workdir, timeout_s)


APPS: list[str] = []  # app ids this run started: their internal topics are deleted at the end


def _app_id(kind: str) -> str:
    app_id = f"{kind}-{uuid.uuid4().hex[:8]}"
    APPS.append(app_id)
    return app_id


def _cleanup(bootstrap: str, prefix: str) -> None:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [t for t in admin.list_topics(timeout=10).topics if t.startswith(prefix) or t.startswith(tuple(APPS))]
    if names:
        for fut in admin.delete_topics(names).values():
            with contextlib.suppress(Exception):
                fut.result(timeout=30)


def _create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    for fut in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        fut.result(timeout=30)


Measurement = Callable[[str, str, int, int], float]
Extra = Callable[[], float]  # a measurement the composition root adds, returning its median-able figure
Report = Callable[[], list[Figure]]  # several figures of one measurement the composition root adds (delivery)


@dataclass
class Plan:
    """What one `nudge bench` run measures."""

    bootstrap: str
    events: int
    users: int
    repeats: int
    partitions: int
    peer_events: int  # the slow entries are timed over the first N events: same input, shorter run
    latency_rates: tuple[int, ...] = (1_000, 2_000, 5_000, 10_000)
    latency_seconds: float = 5.0
    tick_users: int = 1_000_000
    extras: dict[str, tuple[str, str, Extra]] = field(default_factory=dict)  # name -> (group, unit, fn)
    reports: dict[str, Report] = field(default_factory=dict)  # step label -> fn returning its Figures


def measurements(plan: Plan, prefix: str, app_ids: list[str]) -> list[tuple[str, str, str, Measurement]]:
    """(name, group, unit, fn(bootstrap, topic, count, partitions)) for every throughput entry."""
    short = min(plan.events, plan.peer_events)

    def confluent(b: str, t: str, n: int, _p: int) -> float:
        return raw_consumers.confluent_rate(b, t, n)

    def aiokafka(b: str, t: str, n: int, _p: int) -> float:
        return raw_consumers.aiokafka_rate(b, t, n)

    def bare(b: str, t: str, n: int, p: int) -> float:
        return run_faust_peer("bare", b, t, min(n, plan.peer_events * 4), p)

    def naive(b: str, t: str, n: int, p: int) -> float:
        return run_faust_peer("naive", b, t, short, p)

    def nudge(b: str, _t: str, n: int, p: int) -> float:
        run = nudge_worker.worker_rate(b, prefix, n, p, extra_env=ROCKSDB)
        app_ids.append(run.app_id)
        return run.rate

    def nudge_engine_only(b: str, _t: str, n: int, p: int) -> float:
        return nudge_worker.worker_rate(b, prefix, n, p, extra_env={**ROCKSDB, "NUDGE_ATTRIBUTION": "false"}).rate

    def nudge_exactly_once(b: str, _t: str, n: int, p: int) -> float:
        env = {**ROCKSDB, "NUDGE_PROCESSING_GUARANTEE": "exactly_once"}
        return nudge_worker.worker_rate(b, prefix, n, p, extra_env=env).rate

    def quix(mode: str) -> Measurement:
        return lambda b, t, n, _p: quix_peer.quix_rate(mode, b, t, n)

    def in_process(_b: str, _t: str, n: int, _p: int) -> float:
        return engine_costs.in_process_rate(min(n, 100_000), plan.users)

    return [
        ("raw confluent-kafka consumer + decode", "limit", "events/s", confluent),
        ("raw aiokafka consumer + decode", "limit", "events/s", aiokafka),
        ("bare Faust task iterating the topic channel", "ceiling", "events/s", bare),
        ("naive Faust agent, table update per event", "peer", "events/s", naive),
        ("Quix Streams, decode only", "quix", "events/s", quix("decode")),
        (
            comparisons.QUIX_STATEFUL + " (per-user counter + cart check, RocksDB state)",
            "quix",
            "events/s",
            quix("stateful"),
        ),
        ("Nudge worker (full triggers.yaml, RocksDB, changelog, decisions)", "nudge", "events/s", nudge),
        ("Nudge worker, attribution off (RocksDB)", "nudge", "events/s", nudge_engine_only),
        (
            "Nudge worker, exactly-once (RocksDB, a Kafka transaction per commit)",
            "nudge",
            "events/s",
            nudge_exactly_once,
        ),
        (
            "Nudge per-event path in process, no Kafka (decode, engine, decisions, state writes)",
            "engine",
            "events/s",
            in_process,
        ),
    ]


def run(plan: Plan) -> list[Figure]:
    """Publish the workload once, run each throughput entry `repeats` times interleaved, then the rest."""
    run_id = uuid.uuid4().hex[:8]
    prefix = f"bench.{run_id}."
    topic = prefix + "behavior.events"
    app_ids: list[str] = []
    entries = measurements(plan, prefix, app_ids)
    others = 5 + len(plan.extras) + len(plan.reports)
    progress = BenchProgress(1 + plan.repeats * len(entries) + others)
    results = [Figure(name, group, unit) for name, group, unit, _ in entries]
    created = nudge_worker.topics_for(prefix, "unused")[: len(nudge_worker.WORKER_TOPICS)]
    try:
        progress.step(f"publishing {plan.events:,} events for {plan.users:,} users to {topic}")
        for name in created:
            _create_topic(plan.bootstrap, name, plan.partitions)
        workload.publish(plan.bootstrap, topic, plan.events, plan.users)
        progress.finish_step()
        for round_no in range(1, plan.repeats + 1):
            for (name, _group, _unit, fn), result in zip(entries, results, strict=True):
                progress.step(f"round {round_no}/{plan.repeats}: {name}")
                result.runs.append(fn(plan.bootstrap, topic, plan.events, plan.partitions))
                progress.finish_step()
        progress.step("state recovery from the changelog of the last worker run")
        recovered = lambda: latency.recovery_rate(plan.bootstrap, prefix, app_ids[-1], plan.partitions)  # noqa: E731
        results.append(_single("state recovery from the changelog", "nudge", "records/s", recovered))
        progress.finish_step()
        progress.step(f"event -> job latency at {', '.join(f'{r:,}/s' for r in plan.latency_rates)}")
        results.extend(_latency(plan))
        progress.finish_step()
        progress.step("live timers: how long after its deadline a reminder becomes a job")
        results.append(_timers(plan))
        progress.finish_step()
        progress.step(f"timer tick with {plan.tick_users:,} idle users")
        results.append(_single(f"tick, {plan.tick_users:,} idle users, nothing due", "engine", "ms",
                               lambda: engine_costs.tick_seconds(plan.tick_users) * 1000))  # fmt: skip
        progress.finish_step()
        progress.step("bytes of state per user")
        results.append(_single("state per user (stored bytes)", "engine", "bytes",
                               lambda: engine_costs.state_bytes_per_user(min(plan.events, 100_000))))  # fmt: skip
        progress.finish_step()
        for name, (group, unit, fn) in plan.extras.items():
            progress.step(name)
            results.append(_single(name, group, unit, fn))
            progress.finish_step()
        for label, report in plan.reports.items():
            progress.step(label)
            results.extend(_report(label, report))
            progress.finish_step()
    finally:
        APPS.extend(nudge_worker.APPS + [f"changelog__{group}" for group in quix_peer.GROUPS])
        _cleanup(plan.bootstrap, prefix)
        sys.stderr.write("\n")
    return results


def _single(name: str, group: str, unit: str, fn: Extra) -> Figure:
    try:
        return Figure(name, group, unit, [fn()])
    except Exception as exc:  # one failed measurement must not cost the whole run
        return Figure(name, group, unit, [], note=f"failed: {exc}")


def _report(label: str, report: Report) -> list[Figure]:
    try:
        return report()
    except Exception as exc:  # one failed measurement must not cost the whole run
        return [Figure(label, "delivery", "", [], note=f"failed: {exc}")]


def _latency(plan: Plan) -> list[Figure]:
    out = []
    try:
        found = latency.latency_at_rates(
            plan.bootstrap, plan.partitions, list(plan.latency_rates), plan.latency_seconds
        )
    except Exception as exc:
        return [Figure("event -> job latency", "latency", "ms", [], note=f"failed: {exc}")]
    for rate, figures in found.items():
        note = f"{figures['answered']:.0%} of probes answered"
        out.append(Figure(f"event -> job p50 at {rate:,} events/s", "latency", "ms", [figures["p50_ms"]], note))
        out.append(Figure(f"event -> job p99 at {rate:,} events/s", "latency", "ms", [figures["p99_ms"]], note))
    kept_up = [rate for rate, f in found.items() if f["answered"] >= 0.99 and f["p99_ms"] <= SUSTAINED_P99_MS]
    rates = ", ".join(f"{r:,}" for r in found)
    out.append(
        Figure("max sustainable input rate (live)", "latency", "events/s", [max(kept_up)] if kept_up else [],
               f"highest of {rates}/s with every probe answered and p99 <= {SUSTAINED_P99_MS:,} ms")
    )  # fmt: skip
    return out


def _timers(plan: Plan) -> Figure:
    name = "live timer -> job after its deadline, p99"
    try:
        found = latency.timer_lateness(plan.bootstrap, plan.partitions)
    except Exception as exc:
        return Figure(name, "latency", "ms", [], note=f"failed: {exc}")
    note = (f"p50 {found['p50_ms']:,.0f} ms, max {found['max_ms']:,.0f} ms, {found['answered']:.0%} answered "
            "(the rest held out); allowed lateness 0 (a worker waits its allowed lateness on top)")  # fmt: skip
    return Figure(name, "latency", "ms", [found["p99_ms"]], note)


def versions() -> dict[str, str]:
    names = ["faust-streaming", "aiokafka", "confluent-kafka", "fastavro", "redis", "firebase-admin"]
    found = {n: metadata.version(n) for n in names}
    found["quixstreams (own venv)"] = quix_peer.version()
    found["python"] = platform.python_version()
    found["kafka broker"] = os.environ.get("KAFKA_VERSION", "unknown")
    return found


SUSTAINED_P99_MS = 1_000
TARGETS = {  # name prefix -> target text
    "Nudge worker (": ">= 50k/s, >= 14x peer, >= 20% of aiokafka, >= 80% of the bare channel, "
    ">= 2x Quix stateful, >= 25% of raw confluent-kafka",
    "event -> job p99 at 10,000": "<= 50 ms",
    "tick, ": "<= 1 ms",
    "live timer": "<= 1,000 ms",
    "delivery CPU per notification, lean": "<= 0.15 ms",
    "delivery per worker core, lean": ">= 6k/s",
    "delivery, one worker, lean": ">= 10k/s where cores allow",
}


def _target(name: str) -> str:
    return next((t for prefix, t in TARGETS.items() if name.startswith(prefix)), "")


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def write_reports(results: list[Figure], plan: Plan, out_md: Path, out_json: Path) -> None:
    """Write the table with ratios to the limit (raw aiokafka), the peer (naive Faust) and the ceiling."""
    by_group = {r.group: r for r in results if r.unit == "events/s" and r.group in ("peer", "ceiling")}
    by_name = {r.name: r for r in results}
    limit = by_name.get("raw aiokafka consumer + decode")
    peer, ceiling = by_group.get("peer"), by_group.get("ceiling")
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`nudge bench`) on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"{plan.events:,} events of {plan.users:,} users, {plan.partitions} partitions, median of {plan.repeats} "
        f"run(s), all on one local broker in one run. The naive agent is timed over "
        f"the first {min(plan.events, plan.peer_events):,} events, the bare channel task over the first "
        f"{min(plan.events, plan.peer_events * 4):,} (same input, shorter runs). JSON: `bench-results/bench.json`.",
        "",
        f"Machine: {machine}. Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        "",
        "| measurement | group | median | runs | vs raw aiokafka | vs naive Faust | vs bare channel | target | note |",
        "|---|---|---:|---|---:|---:|---:|---|---|",
    ]
    for r in results:
        rate = r.unit == "events/s" and r.runs and r.group != "latency"  # input rates are not throughputs
        ratio_limit = f"{r.median / limit.median:.0%}" if rate and limit and limit.runs else ""
        ratio_peer = f"{r.median / peer.median:.1f}x" if rate and peer and peer.runs else ""
        ratio_ceiling = f"{r.median / ceiling.median:.0%}" if rate and ceiling and ceiling.runs else ""
        median = f"{_fmt(r.median)} {r.unit}" if r.runs else "n/a"
        runs = ", ".join(_fmt(v) for v in r.runs)
        lines.append(
            f"| {r.name} | {r.group} | {median} | {runs} | {ratio_limit} | {ratio_peer} | {ratio_ceiling} "
            f"| {_target(r.name)} | {r.note} |"
        )
    lines += comparisons.lines(results)
    notes = Path(__file__).with_name("NOTES.md")  # the profile findings, kept beside the harness
    if notes.exists():
        lines += ["", notes.read_text().strip()]
    out_md.write_text("\n".join(lines) + "\n")
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(
        json.dumps(
            {
                "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "plan": {k: v for k, v in plan.__dict__.items() if k not in ("extras", "reports")},
                "machine": machine,
                "versions": versions(),
                "results": [{**r.__dict__, "median": r.median if r.runs else None} for r in results],
            },
            indent=2,
        )
    )


def main(
    argv: list[str] | None = None,
    extras: dict[str, tuple[str, str, Extra]] | None = None,
    reports: dict[str, Report] | None = None,
) -> int:
    """Parse the options, run everything, write BENCHMARKS.md and the JSON, print the table."""
    import argparse

    parser = argparse.ArgumentParser(prog="nudge bench", description=__doc__)
    parser.add_argument("--bootstrap", default=os.environ.get("NUDGE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--peer-events", type=int, default=30_000, help="events the slow entries are timed over")
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--tick-users", type=int, default=1_000_000)
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--json", default=str(ROOT / "bench-results" / "bench.json"))
    args = parser.parse_args(argv)
    plan = Plan(
        args.bootstrap, args.events, args.users, args.repeats, args.partitions, args.peer_events,
        latency_seconds=args.latency_seconds, tick_users=args.tick_users, extras=extras or {}, reports=reports or {},
    )  # fmt: skip
    results = run(plan)
    write_reports(results, plan, Path(args.out), Path(args.json))
    print(Path(args.out).read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
