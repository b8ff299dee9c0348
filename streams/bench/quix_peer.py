"""The Quix Streams peer: its own pinned venv (created on demand) and one run of streams/bench/quix_app.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from importlib import metadata
from pathlib import Path

from streams.bench import peer_process

ROOT = Path(__file__).resolve().parents[2]
# Installing Quix Streams into the project's venv would downgrade confluent-kafka and pydantic: it lives apart.
VENV = Path(os.environ.get("NUDGE_BENCH_QUIX_VENV", ROOT / ".local" / "bench-venvs" / "quix"))
QUIX_VERSION = "3.28.1"
APP = Path(__file__).with_name("quix_app.py")
GROUPS: list[str] = []  # consumer groups (= Quix's prefix of its changelog topics) this run used


def python() -> Path:
    """The Quix venv's interpreter, creating the venv first if it lacks the pinned Quix Streams."""
    exe = VENV / "bin" / "python"
    marker = VENV / f".quixstreams-{QUIX_VERSION}"
    if marker.exists():
        return exe
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    # the decode every peer uses is the project's own (schemas.codec): the same fastavro as the project's venv
    pins = [f"quixstreams=={QUIX_VERSION}", f"fastavro=={metadata.version('fastavro')}"]
    subprocess.run([str(exe), "-m", "pip", "install", "-q", *pins], check=True)
    marker.touch()
    return exe


def version() -> str:
    return QUIX_VERSION


def quix_rate(mode: str, bootstrap: str, topic: str, count: int, timeout_s: float = 300) -> float:
    """Events/s of the Quix peer (`stateful` or `decode`) over the first `count` events of `topic`."""
    exe = python()
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-quix-{mode}-"))
    group = f"bench-quix-{mode}-{uuid.uuid4().hex[:8]}"
    GROUPS.append(group)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BENCH_MODE": mode,
        "BENCH_TOPIC": topic,
        "BENCH_COUNT": str(count),
        "BENCH_RESULT_FILE": str(workdir / "result.json"),
        "BENCH_GROUP": group,
        "BENCH_STATE_DIR": str(workdir / "state"),
        "NUDGE_KAFKA_BOOTSTRAP": bootstrap,
    }
    try:
        return peer_process.rate_of(f"quix {mode}", [str(exe), str(APP)], env, ROOT, workdir, timeout_s)
    finally:
        shutil.rmtree(workdir / "state", ignore_errors=True)
