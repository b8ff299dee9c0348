"""The local FCM endpoint for load: granian worker processes serving the same core (`python -m ...cluster`).

The endpoint shares the machine with the worker it measures, so its CPU decides how much is left for the
worker. The asyncio server (server.py: the `h2` state machine and asyncio's TLS in Python) costs ~0.2 ms of
CPU per message; granian does TLS, HTTP/2 and HTTP/1.1 in Rust and calls the core per request: ~0.05 ms.
Rules, connection faults and the control API act per process, so tests use one LocalFcm instead.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from connectors.fcm_local.http2 import MAX_CONCURRENT_STREAMS
from connectors.fcm_local.rsgi import RECORD_DIR_ENV, record_path
from connectors.fcm_local.tls import client_context, make_certificates


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


class LocalFcmCluster:
    """Start `processes` endpoint workers on one port; `close()` stops them and collects their records."""

    def __init__(
        self, processes: int = 2, host: str = "127.0.0.1", record_dir: str | Path | None = None, *, tls: bool = True
    ) -> None:
        self.processes = processes
        self.host = host
        self.record_dir = Path(record_dir) if record_dir else None
        self.tls_files = (
            make_certificates(tempfile.mkdtemp(prefix="nudge-fcm-tls-"), (host, "localhost")) if tls else None
        )
        self.port = 0
        self._proc: subprocess.Popen | None = None
        self.pids: list[int] = []  # the worker processes (their CPU is the endpoint's)

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls_files else 'http'}://{self.host}:{self.port}"

    @property
    def ca_file(self) -> str | None:
        """The CA certificate clients must trust (None in plain mode)."""
        return str(self.tls_files.ca) if self.tls_files else None

    def start(self, port: int = 0, timeout_s: float = 30.0) -> LocalFcmCluster:
        self.port = port or _free_port(self.host)
        args = [sys.executable, "-m", "granian", "--interface", "rsgi", "--workers", str(self.processes)]
        args += ["--host", self.host, "--port", str(self.port), "--log-level", "warning", "--no-ws"]
        args += ["--http2-max-concurrent-streams", str(MAX_CONCURRENT_STREAMS)]  # Google's limit, as server.py
        if self.tls_files is not None:
            args += ["--http", "auto", "--ssl-certificate", str(self.tls_files.cert)]
            args += ["--ssl-keyfile", str(self.tls_files.key)]
        else:
            args += ["--http", "1"]
        env = dict(os.environ)
        if self.record_dir is not None:
            self.record_dir.mkdir(parents=True, exist_ok=True)
            env[RECORD_DIR_ENV] = str(self.record_dir)
        self._proc = subprocess.Popen([*args, "connectors.fcm_local.rsgi:app"], env=env)
        deadline = time.monotonic() + timeout_s
        while not self._healthy():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"local FCM cluster did not start (exit {self._proc.poll()})")
            time.sleep(0.1)
        while len(self.pids) < self.processes and time.monotonic() < deadline:
            self.pids = _children(self._proc.pid)
            time.sleep(0.05)
        return self

    def _healthy(self) -> bool:
        if self.tls_files is not None:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, timeout=2, context=client_context(self.tls_files.ca)
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
        try:
            conn.request("GET", "/health")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def close(self, timeout_s: float = 30.0) -> list[dict]:
        """Stop every process; returns their records (stats, accepted pairs) when a record dir was given."""
        if self._proc is None:
            return []
        proc, self._proc = self._proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # granian stops its workers, which write their records first
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if self.record_dir is None:
            return []
        return [json.loads(record_path(self.record_dir, pid).read_text()) for pid in self.pids
                if record_path(self.record_dir, pid).exists()]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9099)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--record-dir", type=Path, default=None)
    parser.add_argument("--plain", action="store_true", help="plain HTTP/1.1 instead of HTTPS with HTTP/2")
    args = parser.parse_args(argv)
    cluster = LocalFcmCluster(args.processes, args.host, args.record_dir, tls=not args.plain).start(args.port)
    # Blocked only now: the granian processes inherit the signal mask, and they must see SIGTERM.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    trust = f", CA {cluster.ca_file}" if cluster.ca_file else ""
    print(f"local FCM endpoint on {cluster.base_url} ({args.processes} processes{trust})", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    cluster.close()


if __name__ == "__main__":
    main()
