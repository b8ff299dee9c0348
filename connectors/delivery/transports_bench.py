"""FCM transport candidates side by side: client CPU per message against the local HTTPS/h2 endpoint.

`python -m connectors.delivery.transports_bench [N]` starts the load endpoint (granian, TLS, HTTP/2 and
HTTP/1.1 by ALPN), then runs each candidate in a fresh process sending N FCM-sized messages in chunks of
500, as the worker does, and reports its CPU per message (`time.process_time` of that process, so the
endpoint's CPU is not in it), the endpoint's CPU per message and messages/s. Candidates that are not
installed are reported as such; `--python` runs them with another interpreter (e.g. a venv that has
niquests, whose urllib3-future replaces urllib3 and so cannot share the project's venv). Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable

CHUNK = 500
HEADERS = {"Authorization": "Bearer bench", "Content-Type": "application/json; charset=UTF-8"}


def _bodies(n: int, run: str) -> list[list[bytes]]:
    message = {"android": {"priority": "high", "ttl": "3600s"}, "apns": {"headers": {"apns-priority": "10"}}}
    message |= {"notification": {"title": "Hi", "body": "A bench push"}, "webpush": {"headers": {"TTL": "3600"}}}
    bodies = [
        json.dumps({"message": {**message, "token": f"{run}-{i}", "data": {"nudge_job_id": f"{run}-{i}"}}}).encode()
        for i in range(n)
    ]
    return [bodies[i : i + CHUNK] for i in range(0, n, CHUNK)]


def _pycurl(url: str, ca: str) -> Callable[[list[bytes]], None]:
    from connectors.delivery.providers.curl_http2 import CurlHttp2

    client = CurlHttp2(ca_file=ca)
    headers = [f"{k}: {v}" for k, v in HEADERS.items()]

    def send(chunk: list[bytes]) -> None:
        assert all(a.status == 200 for a in client.post_many(url, headers, chunk))

    return send


def _async(make: Callable[[], tuple[Callable, Callable]]) -> Callable[[list[bytes]], None]:
    """A chunk sent as concurrent requests on one event loop kept across chunks."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    post, _close = loop.run_until_complete(make())  # type: ignore[arg-type]

    async def gather(chunk: list[bytes]) -> list[int]:
        return list(await asyncio.gather(*(post(b) for b in chunk)))

    def send(chunk: list[bytes]) -> None:
        statuses = loop.run_until_complete(gather(chunk))
        assert all(s == 200 for s in statuses), statuses[:3]

    return send


def _curl_cffi(url: str, ca: str) -> Callable[[list[bytes]], None]:
    from curl_cffi import CurlHttpVersion
    from curl_cffi.requests import AsyncSession

    async def make() -> tuple[Callable, Callable]:
        session = AsyncSession(verify=ca, http_version=CurlHttpVersion.V2TLS, max_clients=200)

        async def post(body: bytes) -> int:
            return (await session.post(url, data=body, headers=HEADERS)).status_code

        return post, session.close

    return _async(make)


def _httpx_h2(url: str, ca: str) -> Callable[[list[bytes]], None]:
    import ssl

    import httpx

    async def make() -> tuple[Callable, Callable]:
        client = httpx.AsyncClient(http2=True, verify=ssl.create_default_context(cafile=ca))

        async def post(body: bytes) -> int:
            return (await client.post(url, content=body, headers=HEADERS)).status_code

        return post, client.aclose

    return _async(make)


def _aiohttp_h1(url: str, ca: str) -> Callable[[list[bytes]], None]:
    import ssl

    import aiohttp

    async def make() -> tuple[Callable, Callable]:
        connector = aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=ca), limit=100)
        session = aiohttp.ClientSession(connector=connector)

        async def post(body: bytes) -> int:
            async with session.post(url, data=body, headers=HEADERS) as resp:
                await resp.read()
                return resp.status

        return post, session.close

    return _async(make)


def _niquests(url: str, ca: str) -> Callable[[list[bytes]], None]:
    import niquests

    async def make() -> tuple[Callable, Callable]:
        session = niquests.AsyncSession(multiplexed=True, disable_http3=True, pool_maxsize=2)
        session.trust_env = False  # else REQUESTS_CA_BUNDLE from the environment wins over `verify`

        async def post(body: bytes) -> int:
            response = await session.post(url, data=body, headers=HEADERS, verify=ca)
            await session.gather(response)
            return int(response.status_code or 0)

        return post, session.close

    return _async(make)


def _provider(kind: str) -> Callable[[str, str], Callable[[list[bytes]], None]]:
    """A whole FCM provider (Message build, firebase-admin encoding, transport, outcomes) on NotificationJobs."""

    def factory(url: str, ca: str) -> Callable[[list[bytes]], None]:
        import itertools
        import tempfile

        from connectors.delivery.providers.base import Send
        from connectors.delivery.providers.fcm import FcmProvider
        from connectors.delivery.providers.fcm_lean import LeanFcmProvider
        from connectors.fcm_local.credentials import write_service_account
        from schemas.records import NotificationJob

        base = url.split("/v1/")[0]
        creds = write_service_account(tempfile.mktemp(suffix=".json"), base, "bench")
        cls = LeanFcmProvider if kind == "lean" else FcmProvider
        provider = cls("bench", str(creds), base, ca_file=ca)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(provider.start())
        ids = itertools.count()
        now = int(time.time() * 1000)

        def send(chunk: list[bytes]) -> None:
            sends = []
            for i in (next(ids) for _ in chunk):
                job = NotificationJob(
                    job_id=f"b{i}", firing_id=f"f{i}", user_id=f"u{i}", trigger_id="bench", variant="a", title="Hi",
                    body="A bench push", priority="high", ttl_seconds=3600, created_at_ms=now,
                    not_after_ms=now + 3_600_000,
                )  # fmt: skip
                sends.append(Send(job, f"tok-{i}", "android"))
            assert all(o.ok for o in loop.run_until_complete(provider.send_batch(sends)))

        return send

    return factory


CANDIDATES: dict[str, Callable[[str, str], Callable[[list[bytes]], None]]] = {
    "pycurl (libcurl multi + nghttp2), h2": _pycurl,
    "curl_cffi AsyncSession, h2": _curl_cffi,
    "niquests AsyncSession multiplexed, h2": _niquests,
    "httpx + h2 AsyncClient, h2": _httpx_h2,
    "aiohttp ClientSession, HTTP/1.1": _aiohttp_h1,
    # Whole providers, message build and firebase-admin's encoding included:
    "provider: lean (firebase-admin encoding + pycurl), h2": _provider("lean"),
    "provider: firebase-admin send_each_async (httpx), h2": _provider("firebase-admin"),
}


def _one(name: str, url: str, ca: str, n: int) -> dict[str, float]:
    """Run one candidate in this process: a warm-up chunk, then N messages; its own CPU per message."""
    try:
        send = CANDIDATES[name](url, ca)
    except ImportError as exc:
        return {"error": f"not installed ({exc.name})"}  # type: ignore[dict-item]
    chunks = _bodies(n + CHUNK, f"{os.getpid()}")
    send(chunks[0])
    started, cpu = time.monotonic(), time.process_time()
    for chunk in chunks[1:]:
        send(chunk)
    elapsed, used = time.monotonic() - started, time.process_time() - cpu
    return {"client_us_per_message": round(used / n * 1e6, 1), "per_second": round(n / elapsed, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("messages", type=int, nargs="?", default=10_000)
    parser.add_argument("--python", default=sys.executable, help="interpreter for the candidates")
    parser.add_argument("--only", default=None, help="run only candidates whose name contains this")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--ca", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one, args.url, args.ca, args.messages)))
        return
    from connectors.delivery.bench import cpu_of
    from connectors.fcm_local.cluster import LocalFcmCluster

    cluster = LocalFcmCluster(2).start()
    url = f"{cluster.base_url}/v1/projects/bench/messages:send"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    try:
        for name in CANDIDATES:
            if args.only and args.only not in name:
                continue
            before = cpu_of(cluster.pids)
            cmd = [
                args.python,
                "-m",
                "connectors.delivery.transports_bench",
                str(args.messages),
                "--one",
                name,
                "--url",
                url,
                "--ca",
                cluster.ca_file,
            ]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)  # type: ignore[list-item]
            try:
                figures = json.loads(done.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                figures = {"error": (done.stderr.strip().splitlines() or ["failed"])[-1][:200]}
            if "error" not in figures:
                endpoint = (cpu_of(cluster.pids) - before) / (args.messages + CHUNK) * 1e6
                figures["endpoint_us_per_message"] = round(endpoint, 1)
            print(json.dumps({"candidate": name, **figures}), flush=True)
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
