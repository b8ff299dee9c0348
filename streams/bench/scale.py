"""Scale: one RocksDB worker's events/s, peak RSS, warm restart and cold recovery at growing user counts.

Run as `python -m streams.bench.scale --sizes 50k,250k,1M` (what `make bench` and `make bench-scale` do).
Each size gets fresh topics, data dirs and an app id, all removed afterwards; each phase has a time bound.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from streams.bench import nudge_worker, scale_report, worker_log, workload
from streams.bench.nudge_worker import Worker, topics_for
from streams.bench.nudge_worker import _create as create_topics
from streams.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
STORE = "rocksdb://"  # the chart's store
# A probe is as old as the workload's first event: it moves no stream time, so no timer fires and the probe
# costs only what any first event of a partition costs after a restart.
PROBE_TIME_MS = workload.BASE_TIME_MS
# Every size spans the same event time (what 100k events span at the workload's default spacing): a larger app is
# more users in the same hours. With a longer history more of each user's timers would fall due, and the rates
# would compare two workloads, not two sizes.
SPAN_MINUTES = 100_000 * workload.MEAN_STEP_MS / 60_000
PHASES = ("process", "warm", "cold")
# A size with fewer events than this processes them in seconds, and one such run moves by 20-30% with whatever
# else the machine does: its events/s is the median of `--rate-runs` process runs, each on fresh topics.
SHORT_EVENTS = 1_000_000


@dataclass
class Phase:
    """One timed step of a size: its figures, or why it has none."""

    seconds: float = 0.0
    figures: dict[str, float] = field(default_factory=dict)
    error: str = ""


@dataclass
class SizeRun:
    """Every phase of one user count."""

    users: int
    events: int
    phases: dict[str, Phase] = field(default_factory=dict)
    rate_runs: list[float] = field(default_factory=list)  # events/s of each process run, when there were several


def with_rate_runs(run: SizeRun, others: list[SizeRun]) -> SizeRun:
    """`run` with the events/s of its process phase replaced by the median over it and `others` (process-only
    runs of the same size); a run whose process phase failed does not count."""
    rates = [r.phases["process"].figures["events_per_s"] for r in (*others, run)
             if "process" in r.phases and not r.phases["process"].error]  # fmt: skip
    if len(rates) > 1 and "process" in run.phases and not run.phases["process"].error:
        run.rate_runs = rates
        run.phases["process"].figures["events_per_s"] = statistics.median(rates)
    return run


class PhaseTimeout(RuntimeError):
    """A phase ran past its bound."""


def progress(line: str) -> None:
    sys.stderr.write(f"[scale {time.strftime('%H:%M:%S')}] {line}\n")
    sys.stderr.flush()


def get_status(port: int, path: str, timeout_s: float = 60) -> int:
    """HTTP status of a GET on the worker's web server; 0 while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout_s) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


class HealthWatch(threading.Thread):
    """Asks /health every 0.25 s and keeps the longest answer: how long the event loop was blocked."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.longest_s = 0.0
        self.answered = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            started = time.monotonic()
            if get_status(self.port, "/health", timeout_s=120) == 200:
                self.answered += 1
                self.longest_s = max(self.longest_s, time.monotonic() - started)
            time.sleep(0.25)


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def topic_records(bootstrap: str, wanted) -> int:
    """Records in every topic whose name `wanted(name)` accepts (all partitions, high - low watermark)."""
    from confluent_kafka import Consumer, TopicPartition

    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-scale-{uuid.uuid4().hex[:8]}"})
    try:
        total = 0
        for name, meta in probe.list_topics(timeout=10).topics.items():
            if wanted(name):
                for p in meta.partitions:
                    low, high = probe.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                    total += high - low
        return total
    finally:
        probe.close()


def changelog_records(bootstrap: str, app_id: str) -> int:
    """Records in every changelog topic of `app_id`."""
    return topic_records(bootstrap, lambda name: name.startswith(app_id) and name.endswith("-changelog"))


def probe_users(partitions: int, users: int) -> dict[int, str]:
    """One existing user per input partition (librdkafka's default partitioner: crc32 of the key)."""
    found: dict[int, str] = {}
    for i in range(users):
        found.setdefault(zlib.crc32(f"u{i}".encode()) % partitions, f"u{i}")
        if len(found) == partitions:
            break
    return found


def publish_probes(bootstrap: str, topic: str, partitions: int, users: int, round_no: int) -> None:
    """One view per partition: each partition has something to process."""
    from confluent_kafka import Producer

    from schemas.codec import encode
    from schemas.records import BehaviorEvent

    producer = Producer({"bootstrap.servers": bootstrap})
    for partition, user in probe_users(partitions, users).items():
        event = BehaviorEvent(event_id=f"scale-probe-{round_no}-{partition}", user_id=user, type="view",
                              event_time_ms=PROBE_TIME_MS, item_id="i1", category="c1")  # fmt: skip
        producer.produce(topic, encode(event), key=user.encode(), partition=partition)
    if producer.flush(30) != 0:
        raise RuntimeError("the probe events were not acknowledged")


class Sizer:
    """Runs the phases of one size against one broker, within `limit_s` each."""

    def __init__(self, bootstrap: str, users: int, per_user: int, partitions: int, limit_s: float,
                 keep_logs: Path | None = None, span_minutes: float = SPAN_MINUTES) -> None:  # fmt: skip
        self.bootstrap = bootstrap
        self.span_ms = int(span_minutes * 60_000)
        self.keep_logs = keep_logs
        self.partitions = partitions
        self.limit_s = limit_s
        run = uuid.uuid4().hex[:8]
        self.prefix, self.app_id = f"bench.scale.{run}.", f"bench-scale-{run}"
        self.topic = self.prefix + "behavior.events"
        self.result = SizeRun(users, users * per_user)
        self.dirs: list[Path] = []
        self.logs: dict[str, Path] = {}  # phase -> worker log
        self.partial: dict[str, float] = {}  # what a phase that ran out of time had reached
        self.port = free_port()

    def worker(self, data_dir: Path, name: str) -> Worker:
        # One identity across restarts, as a pod restarted in place: the same group instance id (no wait for the
        # old member's session) and the same web port (Faust's assignor checks the member's URL on rejoin).
        env = {"NUDGE_STORE": STORE, "NUDGE_DATA_DIR": str(data_dir), "NUDGE_GROUP_INSTANCE_ID": self.app_id,
               "NUDGE_WEB_PORT": str(self.port)}  # fmt: skip
        worker = Worker(self.bootstrap, self.prefix, self.app_id, self.partitions, extra_env=env)
        self.dirs.append(worker.dir)
        self.logs[name] = worker.log_path
        return worker

    def wait(self, what: str, worker: Worker, done, started: float) -> float:
        """Poll `done()` until it is true; seconds since `started`. Raises PhaseTimeout past the bound."""
        while not done():
            if worker.proc.poll() is not None:
                tail = worker.log_path.read_text(errors="replace")[-1500:]
                raise RuntimeError(f"the worker exited with {worker.proc.returncode} while {what}:\n{tail}")
            if time.monotonic() - started > self.limit_s:
                raise PhaseTimeout(f"did not finish within {self.limit_s / 60:.0f} min ({what})")
            time.sleep(0.2)
        return time.monotonic() - started

    def run(self, phases: tuple[str, ...] = PHASES) -> SizeRun:
        users, events = self.result.users, self.result.events
        try:
            create_topics(self.bootstrap, topics_for(self.prefix, self.app_id), self.partitions)
            progress(f"{users:,} users: publishing {events:,} events")
            workload.publish(self.bootstrap, self.topic, events, users, every_user=True, span_ms=self.span_ms)
            data = Path(self.prefix.rstrip(".")).name  # the data dir survives the warm restart, not the cold one
            warm_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"{data}-data"
            cold_dir = warm_dir.with_name(f"{data}-cold")
            self.dirs += [warm_dir, cold_dir]
            steps = {"process": self.process, "warm": self.restart, "cold": self.restart}
            for name in phases:
                fn = steps[name]
                progress(f"{users:,} users: {name} (bound {self.limit_s / 60:.0f} min)")
                phase = self.result.phases[name] = Phase()
                begun = time.monotonic()
                try:
                    phase.figures = fn(cold_dir if name == "cold" else warm_dir, name)
                except (PhaseTimeout, RuntimeError) as exc:
                    phase.error, phase.figures = str(exc), self.partial
                    progress(f"{users:,} users: {name}: {exc}")
                    break  # the later phases need this one's state
                finally:
                    phase.seconds = time.monotonic() - begun
                progress(f"{users:,} users: {name}: {scale_report.figures_line(phase.figures)}")
        finally:
            self.cleanup()
        return self.result

    def process(self, data_dir: Path, name: str) -> dict[str, float]:
        """Replay every event from scratch: events/s (first to last processed batch) and the peak RSS."""
        events = self.result.events
        worker = self.worker(data_dir, name)
        started = time.monotonic()
        try:
            last = [0.0]

            def done() -> bool:
                seen = worker.read()
                if seen.get("count", 0) // 100_000 > last[0]:
                    last[0] = seen["count"] // 100_000
                    progress(f"  processed {seen['count']:,}/{events:,}")
                return seen.get("count", 0) >= events

            try:
                self.wait("processing the events", worker, done, started)
            except PhaseTimeout:
                self.partial = {"processed": float(worker.read().get("count", 0)),
                                "peak_rss_mib": peak_rss_mib(worker.proc.pid)}  # fmt: skip
                raise
            seen = worker.read()
            rss = peak_rss_mib(worker.proc.pid)
            time.sleep(3)  # a commit or two: every changed state reaches the store and the changelog
        finally:
            worker.stop(timeout_s=300)
        span = max(seen["last_ts"] - seen["first_ts"], 1e-6)
        # the decision layer's work grows with the event time a size spans (timers fire): the table shows it
        decisions = topic_records(self.bootstrap, lambda name: name == self.prefix + "notifications.decisions")
        return {"events_per_s": (seen["count"] - seen.get("first_n", 0)) / span, "peak_rss_mib": rss,
                "changelog_records": changelog_records(self.bootstrap, self.app_id),
                "decisions_per_1k_events": 1000 * decisions / events}  # fmt: skip

    def restart(self, data_dir: Path, name: str) -> dict[str, float]:
        """Start on `data_dir` (kept: warm, fresh: cold); seconds to /ready 200 and to a probe per partition
        processed, the changelog records read, the recovery's records/s and the longest /health answer."""
        records = changelog_records(self.bootstrap, self.app_id)
        worker = self.worker(data_dir, name)
        started = time.monotonic()
        health = HealthWatch(worker.port)
        health.start()
        try:
            ready_s = self.wait("recovering (until /ready answers 200)", worker,
                                lambda: get_status(worker.port, "/ready", timeout_s=5) == 200, started)  # fmt: skip
            publish_probes(self.bootstrap, self.topic, self.partitions, self.result.users, 1 if name == "warm" else 2)
            processing_s = self.wait("processing one event per partition after /ready", worker,
                                     lambda: worker.read().get("count", 0) >= self.partitions, started)  # fmt: skip
            rss = peak_rss_mib(worker.proc.pid)
        finally:
            health.running = False
            worker.stop(timeout_s=300)
        log = worker.log_path.read_text(errors="replace")
        reads = worker_log.changelog_reads(log)
        read = sum(max(last - start, 0) for start, last in reads.values())  # both as Faust logs them: last offsets
        seconds = worker_log.recovery_seconds(log)
        figures = {"ready_s": ready_s, "processing_s": processing_s, "changelog_records": records,
                   "changelog_read": read, "peak_rss_mib": rss, "longest_health_s": health.longest_s}  # fmt: skip
        if seconds is not None:
            figures["recovery_s"] = seconds
            figures["records_per_s"] = read / max(seconds, 1e-3)
        return figures

    def cleanup(self) -> None:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        names = [t for t in admin.list_topics(timeout=10).topics if t.startswith((self.prefix, self.app_id))]
        if names:
            for fut in admin.delete_topics(names).values():
                with contextlib.suppress(Exception):
                    fut.result(timeout=30)
        if self.keep_logs is not None:
            self.keep_logs.mkdir(parents=True, exist_ok=True)
            for phase, log in self.logs.items():
                with contextlib.suppress(OSError):
                    shutil.copy(log, self.keep_logs / f"{self.result.users}-{phase}.log")
        for path in self.dirs:
            shutil.rmtree(path, ignore_errors=True)


def parse_sizes(text: str) -> list[int]:
    """'50k,250k,1M' -> [50000, 250000, 1000000]."""
    scale = {"k": 1_000, "m": 1_000_000}
    out = []
    for part in filter(None, (p.strip().lower() for p in text.split(","))):
        factor = scale.get(part[-1], 1)
        out.append(int(float(part[:-1] if factor > 1 else part) * factor))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default=os.environ.get("NUDGE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--sizes", default="50k,250k,1M", help="user counts, e.g. 50k,250k,1M")
    parser.add_argument("--events-per-user", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--phase-minutes", type=float, default=25.0, help="time bound of each phase")
    parser.add_argument("--span-minutes", type=float, default=SPAN_MINUTES,
                        help="event time every size's events span (the same for all sizes)")  # fmt: skip
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="'-' to leave it alone")
    parser.add_argument("--json", default=str(ROOT / "bench-results" / "scale.json"))
    parser.add_argument("--keep-logs", type=Path, help="copy each phase's worker log here before cleaning up")
    parser.add_argument(
        "--rate-runs",
        type=int,
        default=3,
        help=f"process runs of a size with fewer than {SHORT_EVENTS:,} events (median events/s)",
    )
    args = parser.parse_args(argv)
    runs: list[SizeRun] = []
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stopped run still cleans up (finally blocks)

    def sizer(users: int) -> Sizer:
        return Sizer(args.bootstrap, users, args.events_per_user, args.partitions, args.phase_minutes * 60,
                     args.keep_logs, args.span_minutes)  # fmt: skip

    for users in parse_sizes(args.sizes):
        repeats = args.rate_runs - 1 if users * args.events_per_user < SHORT_EVENTS else 0
        others = [sizer(users).run(phases=("process",)) for _ in range(repeats)]
        runs.append(with_rate_runs(sizer(users).run(), others))
    nudge_worker.APPS.clear()
    command = " ".join(["python -m streams.bench.scale", *(argv if argv is not None else sys.argv[1:])])
    section = scale_report.section(runs, args.partitions, args.phase_minutes, args.span_minutes, command)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps([asdict(r) for r in runs], indent=2))
    if args.out != "-":
        scale_report.splice(Path(args.out), section)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
