"""The collector under a full producer queue (no broker answers): 503 + Retry-After, never a blocked event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from connectors.ingest.collector import create_app
from connectors.ingest.publisher import EventPublisher
from tests.support.net import free_port

KEY = "k-queue"
HEADERS = {"Authorization": f"Bearer {KEY}"}
NOW = 1_700_000_000_000
NOBODY = f"127.0.0.1:{free_port()}"  # no broker there: nothing is ever acknowledged, so the queue only fills


def events(n: int, start: int = 0, pad: int = 0) -> list[dict]:
    return [{"event_id": f"e{i}", "user_id": "u", "type": "view", "event_time_ms": NOW, "session_id": "s" * pad}
            for i in range(start, start + n)]  # fmt: skip


async def client_for(config: dict, max_batch: int) -> TestClient:
    # a short message timeout: the publisher's flush at shutdown gives up on the undeliverable records quickly
    publisher = EventPublisher(NOBODY, clock=lambda: NOW, config={"message.timeout.ms": 500, **config})
    app = create_app(publisher, api_keys=[KEY], max_batch=max_batch, queue_wait_s=0.2)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def small_queue() -> AsyncIterator[TestClient]:
    client = await client_for({"queue.buffering.max.messages": 100}, max_batch=100)
    yield client
    await client.close()


async def test_a_full_queue_answers_503_with_retry_after_and_queues_nothing(small_queue: TestClient) -> None:
    first = await small_queue.post("/v1/events", json=events(100), headers=HEADERS)
    assert first.status == 202 and (await first.json())["accepted"] == 100
    started = time.monotonic()
    full = await small_queue.post("/v1/events", json=[*events(2, 100), {"user_id": ""}], headers=HEADERS)
    body = await full.json()
    assert (full.status, full.headers["Retry-After"], body["accepted"]) == (503, "1", 0)
    assert [(e["index"], e["kind"]) for e in body["errors"]] == [(0, "queue_full"), (1, "queue_full"),
                                                                 (2, "invalid")]  # fmt: skip
    assert time.monotonic() - started < 5  # waited its 0.2 s for room, not until the broker answers


async def test_health_answers_while_requests_wait_for_room(small_queue: TestClient) -> None:
    await small_queue.post("/v1/events", json=events(100), headers=HEADERS)
    waiting = [asyncio.ensure_future(small_queue.post("/v1/events", json=events(1, 200 + i), headers=HEADERS))
               for i in range(20)]  # fmt: skip
    started = time.monotonic()
    health = await small_queue.get("/health")
    assert health.status == 200 and time.monotonic() - started < 0.2
    assert {(await w).status for w in waiting} == {503}
    metrics = await (await small_queue.get("/metrics")).text()
    assert 'nudge_collector_items_total{outcome="queue_full",route="/v1/events"} 20.0' in metrics


async def test_a_queue_full_by_bytes_accepts_the_head_of_a_batch_and_says_which_items_to_retry() -> None:
    client = await client_for({"queue.buffering.max.kbytes": 4}, max_batch=50)  # ~1 KB records: 4 fit
    try:
        resp = await client.post("/v1/events", json=events(10, pad=1000), headers=HEADERS)
        body = await resp.json()
        assert (resp.status, resp.headers["Retry-After"]) == (202, "1")
        assert 0 < body["accepted"] < 10
        assert [e["index"] for e in body["errors"]] == list(range(body["accepted"], 10))
        assert {e["kind"] for e in body["errors"]} == {"queue_full"}
    finally:
        await client.close()


def test_a_queue_that_cannot_hold_one_batch_is_refused_at_start() -> None:
    publisher = EventPublisher(NOBODY, config={"queue.buffering.max.messages": 10})
    with pytest.raises(ValueError, match="never holds a batch of 500"):
        create_app(publisher, api_keys=[KEY], max_batch=500)
