"""A private Kafka broker and Redis for fault tests, on free ports, so stopping them never touches the dev stack."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.support.kafka import wait_for_broker
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack.sh"


class PrivateStack:
    """Kafka through deploy/local/stack.sh (own NUDGE_LOCAL_DIR and ports); Redis with AOF, started by pid."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.kafka_port = free_port()
        self.controller_port = free_port()
        self.redis_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.redis_proc: subprocess.Popen[bytes] | None = None
        (base / "redis").mkdir(parents=True, exist_ok=True)
        shared_jars = Path(os.environ.get("NUDGE_LOCAL_DIR", ROOT / ".local")) / "kafka"
        if shared_jars.exists() and not (base / "kafka").exists():
            (base / "kafka").symlink_to(shared_jars)  # reuse the jars; stack.sh fetches them otherwise

    def _stack(self, command: str) -> None:
        env = {
            **os.environ,
            "NUDGE_LOCAL_DIR": str(self.base),
            "KAFKA_PORT": str(self.kafka_port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "REDIS_PORT": str(self.redis_port),
            "KAFKA_HEAP": "512m",
        }
        done = subprocess.run([str(STACK), command], env=env, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"stack.sh {command} failed:\n{done.stdout}\n{done.stderr}")

    def start_kafka(self) -> None:
        self._stack("start-kafka")
        wait_for_broker(self.bootstrap, timeout=30)

    def stop_kafka(self) -> None:
        self._stack("stop-kafka")

    def start_redis(self) -> None:
        # AOF with fsync always: like a production Redis, a restart keeps tokens and send markers.
        args = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", ""]
        args += ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.base / "redis")]
        log = (self.base / "redis.log").open("ab")
        self.redis_proc = subprocess.Popen(args, stdout=log, stderr=log)
        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError as exc:
                if time.monotonic() > deadline or self.redis_proc.poll() is not None:
                    log_text = (self.base / "redis.log").read_text()[-2000:]
                    raise RuntimeError(f"private Redis did not start: {log_text}") from exc
                time.sleep(0.1)
            finally:
                client.close()

    def stop_redis(self) -> None:
        if self.redis_proc is not None and self.redis_proc.poll() is None:
            self.redis_proc.send_signal(signal.SIGTERM)
            self.redis_proc.wait(20)
        self.redis_proc = None

    def start(self) -> PrivateStack:
        self.start_redis()
        self.start_kafka()
        return self

    def stop(self) -> None:
        self.stop_redis()
        self._stack("stop-kafka")
