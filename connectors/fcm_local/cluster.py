"""The local FCM endpoint as N processes sharing one port (SO_REUSEPORT), for load: `python -m ...cluster`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from connectors.fcm_local.server import LocalFcm
from connectors.fcm_local.tls import CA_FILE, TlsFiles, make_certificates

# The kernel spreads connections over the processes listening on the port, so each one only parses,
# validates and records its share: the cluster is for load (the endpoint shares the machine with the
# worker it measures). Rules and the control API act per process, so tests use one LocalFcm instead.


def _record_path(record_dir: Path, pid: int) -> Path:
    return record_dir / f"accepted-{pid}.json"


def _tls_files(cert_dir: Path) -> TlsFiles:
    return TlsFiles(cert_dir / CA_FILE, cert_dir / "server.pem", cert_dir / "server-key.pem")


async def _child(host: str, port: int, record_dir: Path | None, cert_dir: Path | None) -> None:
    files = _tls_files(cert_dir) if cert_dir else None
    server = LocalFcm(host, port, tls=files is not None, tls_files=files, reuse_port=True)
    await server.start()
    print(f"ready {os.getpid()}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()
    if record_dir is not None:
        # What the bench checks: every (job, token) this process accepted, once per accepted request.
        pairs = [
            [m["message"].get("data", {}).get("nudge_job_id"), m["message"].get("token")] for m in server.state.accepted
        ]
        out = {"stats": server.stats(), "accepted": pairs}
        tmp = _record_path(record_dir, os.getpid()).with_suffix(".tmp")
        tmp.write_text(json.dumps(out))
        tmp.replace(_record_path(record_dir, os.getpid()))


def _run_child(host: str, port: int, record_dir: Path | None, cert_dir: Path | None) -> None:
    with contextlib.suppress(ImportError):
        import uvloop  # optional: a faster event loop when installed

        uvloop.install()
    asyncio.run(_child(host, port, record_dir, cert_dir))


class LocalFcmCluster:
    """Start `processes` endpoint processes on one port; `close()` stops them and collects their records."""

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
        self._procs: list[subprocess.Popen] = []

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls_files else 'http'}://{self.host}:{self.port}"

    @property
    def ca_file(self) -> str | None:
        """The CA certificate clients must trust (None in plain mode)."""
        return str(self.tls_files.ca) if self.tls_files else None

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self._procs]

    def start(self, port: int = 0, timeout_s: float = 30.0) -> LocalFcmCluster:
        # Hold the port with a bound, non-listening SO_REUSEPORT socket until every child listens on it.
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((self.host, port))
        self.port = holder.getsockname()[1]
        try:
            args = [sys.executable, "-m", "connectors.fcm_local.cluster", "--host", self.host, "--port", str(self.port)]
            if self.record_dir is not None:
                self.record_dir.mkdir(parents=True, exist_ok=True)
                args += ["--record-dir", str(self.record_dir)]
            if self.tls_files is not None:
                args += ["--cert-dir", str(self.tls_files.ca.parent)]
            for _ in range(self.processes):
                self._procs.append(subprocess.Popen([*args, "--child"], stdout=subprocess.PIPE, text=True))
            deadline = time.monotonic() + timeout_s
            for proc in self._procs:
                line = proc.stdout.readline() if proc.stdout else ""  # "ready <pid>" once it listens
                if not line.startswith("ready") or time.monotonic() > deadline:
                    raise RuntimeError(f"local FCM process {proc.pid} did not start (exit {proc.poll()})")
        except BaseException:
            self.close()
            raise
        finally:
            holder.close()
        return self

    def close(self, timeout_s: float = 15.0) -> list[dict]:
        """Stop every process; returns their records (stats, accepted pairs) when a record dir was given."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        records = []
        for proc in self._procs:
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            if proc.stdout:
                proc.stdout.close()
            if self.record_dir is not None and _record_path(self.record_dir, proc.pid).exists():
                records.append(json.loads(_record_path(self.record_dir, proc.pid).read_text()))
        self._procs = []
        return records


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9099)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--record-dir", type=Path, default=None)
    parser.add_argument("--plain", action="store_true", help="plain HTTP/1.1 instead of HTTPS with HTTP/2")
    parser.add_argument("--cert-dir", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _run_child(args.host, args.port, args.record_dir, args.cert_dir)
        return
    cluster = LocalFcmCluster(args.processes, args.host, args.record_dir, tls=not args.plain).start(args.port)
    # Blocked only now: children inherit the signal mask, and they must see SIGTERM.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    trust = f", CA {cluster.ca_file}" if cluster.ca_file else ""
    print(f"local FCM endpoint on {cluster.base_url} ({args.processes} processes{trust})", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    cluster.close()


if __name__ == "__main__":
    main()
