"""The HTTP collector over real HTTP on 127.0.0.1, publishing to the real broker."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from connectors.ingest.collector import create_app
from connectors.ingest.publisher import EventPublisher
from schemas.codec import decode
from schemas.records import BehaviorEvent, DeviceToken, UserProfile
from tests.support.kafka import consume_all
from tests.support.net import free_port

NOW = 1_700_000_000_000
KEY = "k-good-0123456789"


def event(i: int, **extra: object) -> dict:
    return {"event_id": f"e{i}", "user_id": f"u{i}", "type": "view", "event_time_ms": NOW + i, **extra}


@pytest.fixture
def topics(topic_factory) -> dict[type, str]:
    return {
        BehaviorEvent: topic_factory("behavior.events"),
        UserProfile: topic_factory("user.profiles"),
        DeviceToken: topic_factory("device.tokens"),
    }


@pytest.fixture
async def collector(kafka_bootstrap: str, topics: dict[type, str]) -> AsyncIterator[str]:
    publisher = EventPublisher(kafka_bootstrap, topic_overrides=topics, clock=lambda: NOW)
    app = create_app(publisher, api_keys=["other-key", KEY], max_body_bytes=20_000, max_batch=10)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()  # flushes the publisher


async def post(session: aiohttp.ClientSession, url: str, body: object, key: str | None = KEY) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with session.post(url, data=json.dumps(body), headers=headers) as resp:
        return resp.status, await resp.json()


async def test_collector_end_to_end(collector: str, kafka_bootstrap: str, topics: dict[type, str]) -> None:
    async with aiohttp.ClientSession() as s:
        assert (await post(s, f"{collector}/v1/events", [event(0)], key=None))[0] == 401
        assert (await post(s, f"{collector}/v1/events", [event(0)], key="k-good-012345678X"))[0] == 401

        status, body = await post(s, f"{collector}/v1/events", {"events": [event(1), event(2, price=9.99)]})
        assert (status, body) == (202, {"accepted": 2, "rejected": 0, "errors": []})

        batch = [event(3), event(4, user_id=""), 17, event(5, event_time_ms=12), event(6, colour="red"), event(7)]
        status, body = await post(s, f"{collector}/v1/events", batch)
        assert status == 202 and body["accepted"] == 2
        assert [(e["index"], e["kind"]) for e in body["errors"]] == [
            (1, "missing_user_id"),
            (2, "invalid"),
            (3, "absurd_timestamp"),
            (4, "invalid"),
        ]
        assert "unknown fields ['colour']" in body["errors"][3]["error"]

        status, body = await post(s, f"{collector}/v1/events", [event(8, user_id="")])
        assert status == 400 and body["rejected"] == 1

        status, body = await post(s, f"{collector}/v1/events", [event(i) for i in range(11)])
        assert status == 400 and "limit of 10" in body["error"]
        status, body = await post(s, f"{collector}/v1/events", [event(i, session_id="s" * 5000) for i in range(5)])
        assert status == 413
        async with s.post(f"{collector}/v1/events", data=b"{not json", headers={"Authorization": f"Bearer {KEY}"}) as r:
            assert r.status == 400

        profile = {"user_id": "u1", "first_name": "Ada", "opted_out_channels": ["email"], "updated_at_ms": NOW}
        assert (await post(s, f"{collector}/v1/profiles", [profile]))[0] == 202
        device = {"user_id": "u1", "token": "tok", "platform": "ios", "updated_at_ms": NOW}
        assert (await post(s, f"{collector}/v1/devices", {"devices": [device, {**device, "platform": "nokia"}]}))[1][
            "accepted"
        ] == 1

        async with s.get(f"{collector}/health") as r:
            assert r.status == 200
        async with s.get(f"{collector}/metrics") as r:
            text = await r.text()
        assert 'nudge_collector_items_total{outcome="accepted",route="/v1/events"} 4.0' in text
        assert 'nudge_collector_requests_total{route="/v1/events",status="401"} 2.0' in text

    events = [decode(m.value()) for m in consume_all(kafka_bootstrap, topics[BehaviorEvent], 4)]
    assert sorted(e.event_id for e in events) == ["e1", "e2", "e3", "e7"]
    assert [decode(m.value()).opted_out_channels for m in consume_all(kafka_bootstrap, topics[UserProfile], 1)] == [
        ["email"]
    ]
    assert [decode(m.value()).platform for m in consume_all(kafka_bootstrap, topics[DeviceToken], 1)] == ["ios"]
