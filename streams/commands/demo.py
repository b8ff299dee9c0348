"""`nudge demo`: the whole system on the local stack, with live progress and a final report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import faust
from faust.cli import option
from prometheus_client.parser import text_string_to_metric_families

from streams.ports import free_port
from streams.settings import Settings

DEMO_API_KEY = "demo-key-not-secret"  # the collector needs one; this demo key guards nothing real


def metric_total(url: str, name: str) -> float:
    """Sum of every sample of metric `name` at a /metrics URL (0 when unreachable)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return 0.0
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name or sample.name == f"{name}_total":
                total += sample.value
    return total


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@dataclass
class Fleet:
    """The processes the demo started, stopped in reverse order (SIGTERM, then SIGKILL)."""

    workdir: Path
    procs: list[tuple[str, subprocess.Popen]] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.workdir / f"{name}.log").open("ab")
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                tail = (self.workdir / f"{name}.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}; last log lines:\n{tail}")

    def stop(self) -> None:
        for _name, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for _name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_until(check, what: str, fleet: Fleet, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        fleet.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.5)


def run_demo(settings: Settings, users: int, days: float, duration: float, seed: int, out_dir: Path) -> int:
    """Start fcm-local, deliver, worker and collector; simulate; report; stop everything."""
    run_id = time.strftime("%Y%m%d-%H%M%S")
    prefix = f"demo-{run_id}."
    workdir = out_dir / f"demo-{run_id}"
    workdir.mkdir(parents=True, exist_ok=True)
    nudge = [sys.executable, "-m", "streams.cli"]
    fcm_port, web_port, deliver_port, collector_port = (free_port() for _ in range(4))
    credentials = workdir / "fcm-local-service-account.json"
    fcm_ca = workdir / "fcm-local-ca.pem"  # the endpoint speaks HTTPS/h2 like Google; the worker trusts its CA
    env = {
        **os.environ,
        "NUDGE_TOPIC_PREFIX": prefix,
        "NUDGE_APP_ID": f"nudge-demo-{run_id}",
        "NUDGE_REPLAY": "true",  # simulated history: time moves with events, not the wall clock
        "NUDGE_DATA_DIR": str(workdir / "state"),
        "NUDGE_WEB_PORT": str(web_port),
        "NUDGE_FCM_ENDPOINT": f"https://127.0.0.1:{fcm_port}",
        "NUDGE_FCM_CA_FILE": str(fcm_ca),
        "NUDGE_FCM_PROJECT_ID": "nudge-local",
        "NUDGE_FCM_CREDENTIALS_FILE": str(credentials),
        "NUDGE_DELIVERY_METRICS_PORT": str(deliver_port),
        "NUDGE_COLLECTOR_PORT": str(collector_port),
        "NUDGE_COLLECTOR_API_KEYS": DEMO_API_KEY,
    }
    fleet = Fleet(workdir)
    say = print
    say(f"Nudge demo: {users:,} simulated users over {days:g} days, topics prefixed '{prefix}', logs in {workdir}")
    try:
        subprocess.run([*nudge, "topics", "apply"], env=env, check=True, stdout=subprocess.DEVNULL)
        local_fcm = [*nudge, "fcm-local", "--port", str(fcm_port), "--write-credentials", str(credentials)]
        fleet.start("fcm-local", [*local_fcm, "--write-ca", str(fcm_ca)], env)
        wait_until(credentials.exists, "the local FCM endpoint", fleet)
        fleet.start("deliver", [*nudge, "deliver"], env)
        fleet.start("worker", [*nudge, "worker", "-l", "info"], env)
        fleet.start("collect", [*nudge, "collect"], env)
        worker_metrics = f"http://127.0.0.1:{web_port}/metrics"
        deliver_metrics = f"http://127.0.0.1:{deliver_port}/metrics"
        wait_until(lambda: http_ok(f"http://127.0.0.1:{web_port}/ready"), "the stream worker to be ready", fleet)
        wait_until(lambda: http_ok(f"http://127.0.0.1:{deliver_port}/ready"), "the delivery worker", fleet)
        wait_until(lambda: http_ok(f"http://127.0.0.1:{collector_port}/health"), "the collector", fleet)
        say("stream worker, delivery worker (firebase-admin -> local FCM endpoint) and collector are up")
        sim = fleet.start(
            "simulate",
            [
                *nudge,
                "simulate",
                "--users",
                str(users),
                "--days",
                str(days),
                "--duration",
                str(duration),
                "--seed",
                str(seed),
            ],
            env,
        )
        last_change, last_seen = time.monotonic(), (-1.0, -1.0, -1.0)
        while True:
            events = metric_total(worker_metrics, "nudge_stream_events_in")
            fired = metric_total(worker_metrics, "nudge_engine_firings")
            sent = metric_total(deliver_metrics, "nudge_delivery_sends")
            line = f"events processed {events:>9,.0f} | triggers fired {fired:>7,.0f} | pushes sent {sent:>7,.0f}"
            sys.stdout.write(("\r" + line) if sys.stdout.isatty() else line + "\n")
            sys.stdout.flush()
            if (events, fired, sent) != last_seen:
                last_seen, last_change = (events, fired, sent), time.monotonic()
            if sim.poll() is not None:
                if sim.returncode != 0:
                    fleet.check_alive()
                if time.monotonic() - last_change > 8:  # the pipeline has drained
                    break
            else:
                fleet.check_alive()
            time.sleep(2 if sys.stdout.isatty() else 10)
        print()
        html = workdir / "report.html"
        subprocess.run([*nudge, "report", "--html", str(html)], env=env, check=True)
        say(f"Explore: `NUDGE_TOPIC_PREFIX={prefix} .venv/bin/nudge tail notifications.decisions --from-beginning "
            "--max 20`")  # fmt: skip
        return 0
    finally:
        fleet.stop()
        say("demo processes stopped")


def register(app: faust.App, settings: Settings) -> None:
    """Add `nudge demo`."""

    @app.command(
        option("--users", default=2000, type=int, help="simulated users"),
        option(
            "--days", default=10.0, type=float, help="days of simulated history (7+ so inactivity and streaks fire)"
        ),
        option("--duration", default=120.0, type=float, help="wall seconds the simulation takes"),
        option("--seed", default=7, type=int, help="simulation seed"),
        option("--out", default="reports", help="where logs and the HTML report go"),
    )
    async def demo(self, users: int, days: float, duration: float, seed: int, out: str) -> None:
        """Run Nudge end to end on the local stack and print the report."""
        try:
            run_demo(settings, users, days, duration, seed, Path(out).resolve())
        except KeyboardInterrupt:
            print("\ninterrupted")
            raise SystemExit(130) from None
        except (RuntimeError, subprocess.CalledProcessError) as exc:
            print(f"\ndemo failed: {exc}", file=sys.stderr)
            raise SystemExit(1) from None
