"""FCM sends spread over sender processes, each running firebase-admin's `send_each_async` (FcmProvider)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing.connection
import signal
import socket
import subprocess
import sys
from typing import Any

from connectors.delivery.errors import ProviderConfigError, ProviderUnavailable
from connectors.delivery.providers.base import Outcome, Send
from connectors.delivery.providers.fcm import FCM_MAX_BATCH, IN_FLIGHT, LANES, FcmProvider

# Why processes: firebase-admin's async client is httpx, and each FCM v1 message is one HTTP request
# costing ~2-3 ms of CPU in httpx/httpcore/anyio/h11 on a small machine (profiled); everything else the
# worker does costs ~0.2 ms per message. One process therefore tops out near one core's worth of
# requests. The worker keeps Kafka, Redis, claims and offsets in its own process and only hands the
# sends of a chunk (already claimed) to these processes, so the guarantees are unchanged: a sender that
# dies mid-chunk fails the whole chunk (ProviderUnavailable), the worker stops uncommitted, and the
# redelivered jobs find their claims (at most one chunk reported CLAIM_UNCONFIRMED, as for any crash).
START_TIMEOUT_S = 120.0


def _serve(conn: multiprocessing.connection.Connection, args: tuple[Any, ...]) -> None:
    """A sender process: answer each list of Sends with its Outcomes until the pipe closes."""
    # The worker decides when sending stops: a Ctrl-C or a SIGTERM sent to the whole process group must
    # not kill a chunk in flight before the worker drains; the sender exits when the worker closes the
    # pipe (or dies: EOF).
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(ImportError):
        import uvloop  # optional: a cheaper event loop when installed

        uvloop.install()
    asyncio.run(_serve_async(conn, args))


async def _serve_async(conn: multiprocessing.connection.Connection, args: tuple[Any, ...]) -> None:
    project_id, credentials_file, endpoint, lanes, in_flight = args
    provider = FcmProvider(project_id, credentials_file, endpoint, lanes=lanes, in_flight=in_flight)
    try:
        await provider.start()
        await provider.ready()  # every lane's client is built before the first chunk arrives
    except Exception as exc:  # reported to the worker, which raises it there
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    try:
        while True:
            try:
                sends = await asyncio.to_thread(conn.recv)
            except EOFError:
                return  # the worker is gone or closed us
            if sends is None:
                return
            try:
                conn.send(("ok", await provider.send_batch(sends)))
            except Exception as exc:  # the worker fails the chunk with this
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        await provider.close()


class _Sender:
    """One sender process and the pipe to it; one chunk in flight at a time."""

    def __init__(self, process: subprocess.Popen, conn: multiprocessing.connection.Connection):
        self.process = process
        self.conn = conn
        self.lock = asyncio.Lock()

    async def call(self, payload: Any) -> Any:
        async with self.lock:
            try:
                self.conn.send(payload)
                kind, value = await asyncio.to_thread(self.conn.recv)
            except (EOFError, OSError) as exc:
                raise ProviderUnavailable(f"FCM sender process {self.process.pid} died ({exc!r})") from exc
        if kind == "error":
            raise ProviderUnavailable(f"FCM sender process {self.process.pid}: {value}")
        return value


class FcmProcessPool:
    """FcmProvider in `processes` sender processes; a chunk is split among them in order."""

    name = "fcm"
    max_batch = FCM_MAX_BATCH

    def __init__(
        self,
        project_id: str | None,
        credentials_file: str | None,
        endpoint: str | None = None,
        *,
        processes: int = 2,
        lanes: int = LANES,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self._args = (project_id, credentials_file, endpoint, lanes, in_flight)
        self._processes = max(processes, 1)
        self._senders: list[_Sender] = []

    async def start(self) -> None:
        # A fresh interpreter per sender (not fork: the worker's loop, sockets and threads must not be
        # copied), talking over a socketpair; the arguments hold a file path, never credentials.
        try:
            for _ in range(self._processes):
                parent, child = socket.socketpair()
                args = [sys.executable, "-m", __name__, str(child.fileno()), json.dumps(self._args)]
                process = subprocess.Popen(args, pass_fds=[child.fileno()])
                child.close()
                conn = multiprocessing.connection.Connection(parent.detach())
                self._senders.append(_Sender(process, conn))
            for sender in self._senders:
                ready = await asyncio.wait_for(asyncio.to_thread(sender.conn.recv), START_TIMEOUT_S)
                if ready[0] != "ready":
                    raise ProviderConfigError(f"FCM sender process did not start: {ready[1]}")
        except BaseException:
            await self.close()
            raise

    async def send_batch(self, sends: list[Send]) -> list[Outcome]:
        if not sends:
            return []
        # Contiguous, near-equal parts keep the answers in the order of `sends`.
        n = min(len(self._senders), len(sends))
        size, extra = divmod(len(sends), n)
        parts, start = [], 0
        for i in range(n):
            end = start + size + (1 if i < extra else 0)
            parts.append(sends[start:end])
            start = end
        answers = await asyncio.gather(*(s.call(p) for s, p in zip(self._senders, parts, strict=False)))
        return [outcome for answer in answers for outcome in answer]

    async def close(self) -> None:
        senders, self._senders = self._senders, []
        for sender in senders:
            with contextlib.suppress(OSError, ValueError):
                sender.conn.send(None)
        for sender in senders:
            try:
                await asyncio.to_thread(sender.process.wait, 10)
            except subprocess.TimeoutExpired:
                sender.process.kill()
                await asyncio.to_thread(sender.process.wait, 5)
            sender.conn.close()


if __name__ == "__main__":
    _serve(multiprocessing.connection.Connection(int(sys.argv[1])), tuple(json.loads(sys.argv[2])))
