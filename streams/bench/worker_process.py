"""`nudge worker` as a child process: the one place the bench, the fault suite and the tests start it.

`worker_process()` turns what callers vary (topics, partitions, trigger and decision files, data dir,
identity, replay or live) into the worker's settings; anything else goes in `env`. `ManagedProcess`
starts, stops (SIGTERM, then SIGKILL after a timeout), kills and, like a pod, restarts a process that
died on its own (`supervise()`); it also runs the fault suite's endpoint and delivery workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
NUDGE = Path(sys.executable).parent / "nudge"


@dataclass
class ManagedProcess:
    """A child process writing to `log`; `popen` is None before `start()` and after `stop()`."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    exits: list[int] = field(default_factory=list)
    terminating: bool = False  # SIGTERM sent to the running process

    def start(self) -> ManagedProcess:
        with self.log.open("ab") as fh:  # the child keeps its own copy of the descriptor
            self.popen = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
        self.terminating = False
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def exited(self) -> int | None:
        """The exit code if it died (not stopped on purpose), else None."""
        return None if self.popen is None else self.popen.poll()

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 60) -> int:
        """Send `sig` and wait for the exit; `supervise()` then restarts it, as a pod would be."""
        assert self.popen is not None, f"{self.name} is not running"
        self.popen.send_signal(sig)
        return self.popen.wait(timeout)

    def supervise(self) -> None:
        """Restart the process if it died on its own."""
        if self.popen is not None and self.popen.poll() is not None:
            self.exits.append(self.popen.returncode)
            self.restarts += 1
            self.start()

    def terminate(self) -> None:
        """Send SIGTERM once without waiting (several processes asked to stop together, then `stop()` each)."""
        if self.alive() and not self.terminating:
            assert self.popen is not None
            self.popen.send_signal(signal.SIGTERM)
            self.terminating = True

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; the exit code of a graceful stop (None if it was killed).

        A process that had already exited returns its code; it is no longer supervised after this."""
        self.terminate()
        if self.popen is None:
            return None
        popen, self.popen = self.popen, None
        try:
            return popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
            return None

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def worker_process(
    name: str,
    *,
    bootstrap: str,
    prefix: str,
    app_id: str,
    partitions: int,
    data_dir: Path,
    log: Path,
    triggers: Path,
    decisions: Path | None = None,
    replay: bool = True,
    web_port: int | None = None,
    identity: str | None = None,
    log_level: str = "warn",
    loop: str | None = None,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> ManagedProcess:
    """A `nudge worker` (not started) on topics under `prefix`; `identity` is its group instance id, kept
    across restarts as the chart gives each pod one, so a restart rejoins without waiting for a rebalance."""
    full = {
        **os.environ,
        "NUDGE_APP_ID": app_id,
        "NUDGE_KAFKA_BOOTSTRAP": bootstrap,
        "NUDGE_TOPIC_PREFIX": prefix,
        "NUDGE_TOPIC_PARTITIONS": str(partitions),
        "NUDGE_REPLAY": "true" if replay else "false",
        "NUDGE_TRIGGERS_FILE": str(triggers),
        "NUDGE_DATA_DIR": str(data_dir),
        "NUDGE_WEB_PORT": str(web_port or free_port()),
    }
    if decisions is not None:
        full["NUDGE_DECISIONS_FILE"] = str(decisions)
    if identity is not None:
        full["NUDGE_GROUP_INSTANCE_ID"] = identity
    full |= env or {}
    command = [str(NUDGE), *(["--loop", loop] if loop else []), "worker", "-l", log_level, *args]
    return ManagedProcess(name, command, full, log)


def web_port(process: ManagedProcess) -> int:
    """The port of a worker's web server (health, readiness, metrics, views)."""
    return int(process.env["NUDGE_WEB_PORT"])
