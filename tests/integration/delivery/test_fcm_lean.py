"""The lean load endpoint: FCM's answers for firebase-admin, keep-alive and pipelined requests."""

from __future__ import annotations

import asyncio
import json

from connectors.delivery.providers.base import Send
from connectors.delivery.providers.fcm import FcmProvider
from connectors.fcm_local.credentials import write_service_account
from connectors.fcm_local.lean import LeanFcm
from tests.integration.delivery.conftest import job


async def test_firebase_admin_gets_fcm_answers_from_the_lean_endpoint(tmp_path) -> None:
    server = LeanFcm()
    await server.start()
    creds = write_service_account(tmp_path / "sa.json", server.base_url, "p")
    provider = FcmProvider("p", str(creds), server.base_url, lanes=2)
    await provider.start()
    try:
        sends = [Send(job(f"j{i}", f"u{i}"), f"tok-{i}", "android") for i in range(5)]
        sends.append(Send(job("bad", "u9"), "invalid-token", "ios"))
        outcomes = await provider.send_batch(sends)
    finally:
        await provider.close()
        await server.close()
    assert [o.ok for o in outcomes] == [True] * 5 + [False]
    assert outcomes[0].message_id.startswith("projects/p/messages/")
    assert outcomes[5].error_code == "INVALID_TOKEN"
    assert [m["message"]["token"] for m in server.state.accepted] == [f"tok-{i}" for i in range(5)]
    assert server.stats()["tokens_issued"] == 1 and server.stats()["rejected"] == {"INVALID_ARGUMENT": 1}


async def test_pipelined_requests_on_one_connection_are_answered_in_order() -> None:
    server = LeanFcm()
    await server.start()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:

        def request(body: dict, auth: bool = True) -> bytes:
            raw = json.dumps(body).encode()
            head = "POST /v1/projects/p/messages:send HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            head += "Authorization: Bearer t\r\n" if auth else ""
            return f"{head}Content-Length: {len(raw)}\r\n\r\n".encode() + raw

        good = request({"message": {"token": "t1", "data": {"nudge_job_id": "j1"}}})
        # Three requests in one write, the last one split across two writes.
        payload = good + request({"message": {"token": "t"}}, auth=False) + request({"message": {"data": {"a": 1}}})
        writer.write(payload[:-7])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(payload[-7:])
        statuses = []
        for _ in range(3):
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            length = int(head.lower().split("content-length: ")[1].split("\r\n")[0])
            body = json.loads(await reader.readexactly(length))
            statuses.append((int(head.split(" ")[1]), body.get("error", {}).get("status")))
    finally:
        writer.close()
        await server.close()
    assert statuses == [(200, None), (401, "UNAUTHENTICATED"), (400, "INVALID_ARGUMENT")]
    assert server.stats()["accepted"] == 1
