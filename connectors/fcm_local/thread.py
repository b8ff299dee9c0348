"""Run the local endpoint on its own thread and event loop (firebase-admin refreshes OAuth tokens blocking)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from connectors.fcm_local.server import LocalFcm


class ThreadedLocalFcm:
    """The endpoint on a background thread; `start()` returns once it listens."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, tls: bool = True) -> None:
        self.fcm = LocalFcm(host, port, tls=tls)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fcm-local", daemon=True)

    @property
    def base_url(self) -> str:
        return self.fcm.base_url

    @property
    def ca_file(self) -> str | None:
        return self.fcm.ca_file

    def start(self) -> ThreadedLocalFcm:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fcm.start(), self._loop).result(10)
        return self

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run `fn` on the endpoint's loop thread (its state is not thread-safe)."""

        async def run() -> Any:
            return fn(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.fcm.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
