"""A private password-protected Redis for the security tests, started and stopped here by pid."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from tests.support.net import free_port

PASSWORD = "s3cret-redis-pass-0042"


@pytest.fixture(scope="session")
def private_redis(tmp_path_factory) -> Iterator[int]:
    """redis-server --requirepass on a free port; yields the port."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis-auth")
    args = ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    proc = subprocess.Popen([*args, "--requirepass", PASSWORD, "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port, password=PASSWORD, socket_connect_timeout=1)
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
    client.close()
    yield port
    proc.terminate()
    proc.wait(15)
