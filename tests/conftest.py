"""Shared fixtures: the real local Kafka and Redis, unique names per test, a fake clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clock import FakeClock

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("NUDGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
TAOBAO_FILE = SHARED_DATA / "taobao_userbehavior_2017-11-26_head96k.csv"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap address of the real broker; fails (never skips) when it is down."""
    from tests.support.kafka import wait_for_broker

    bootstrap = os.environ.get("NUDGE_TEST_KAFKA", "127.0.0.1:9092")
    wait_for_broker(bootstrap)
    return bootstrap


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str):
    from tests.support.kafka import wait_for_broker

    return wait_for_broker(kafka_bootstrap)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis; fails (never skips) when it is down."""
    import redis

    url = os.environ.get("NUDGE_TEST_REDIS", "redis://127.0.0.1:6379/0")
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        raise RuntimeError(f"no Redis answers at {url}: start the local stack with `make up` ({exc})") from exc
    finally:
        client.close()
    return url


@pytest.fixture
def unique() -> str:
    """A short name unique to this test, for topics, groups and key prefixes."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def topic_factory(kafka_admin) -> Iterator:
    """Create uniquely named topics for one test and delete them afterwards."""
    from tests.support.kafka import create_topics, delete_topics

    created: list[str] = []

    def make(base: str, partitions: int = 1, **config: str) -> str:
        name = f"{base}.{uuid.uuid4().hex[:12]}"
        create_topics(kafka_admin, [name], partitions, **config)
        created.append(name)
        return name

    yield make
    delete_topics(kafka_admin, created)


@pytest.fixture
def redis_prefix(unique: str) -> str:
    """A Redis key prefix unique to this test."""
    return f"test:{unique}:"


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def taobao_file() -> Path:
    """The real Taobao clickstream from ../shared/data; the test is skipped, loudly, without it."""
    if not TAOBAO_FILE.exists():
        pytest.skip(f"SHARED DATA MISSING: {TAOBAO_FILE} not found; this data test did not run")
    return TAOBAO_FILE


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
