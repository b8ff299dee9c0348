"""The local FCM endpoint: HTTPS with HTTP/2 (ALPN h2, a CA made at start-up) by default, or plain HTTP/1.1."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from connectors.fcm_local.core import FcmCore, Rule, State
from connectors.fcm_local.http1 import Http1Protocol
from connectors.fcm_local.http2 import Http2Protocol
from connectors.fcm_local.tls import TlsFiles, make_certificates, server_context


class _Negotiated(asyncio.Protocol):
    """Picks HTTP/2 or HTTP/1.1 once TLS has chosen (ALPN; plain HTTP is 1.1), then hands every call to it."""

    def __init__(self, core: FcmCore, open_transports: set[asyncio.BaseTransport]) -> None:
        self.core = core
        self.open_transports = open_transports
        self.transport: asyncio.BaseTransport | None = None
        self.inner: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.open_transports.add(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        self.inner = Http2Protocol(self.core) if alpn == "h2" else Http1Protocol(self.core)
        protocol = "h2" if alpn == "h2" else "http/1.1"
        self.core.state.connections[protocol] = self.core.state.connections.get(protocol, 0) + 1
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)  # type: ignore[union-attr]

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self.open_transports.discard(self.transport)  # type: ignore[arg-type]
        if self.inner is not None:
            self.inner.connection_lost(exc)


class LocalFcm:
    """The endpoint: `await start()`, point the client at `base_url` (trusting `ca_file`), `await close()`.

    `tls=True` (the default, as production): HTTPS, HTTP/2 by ALPN (HTTP/1.1 for clients that offer only
    that), certificates made at start-up in `cert_dir` (or given as `tls_files`, shared by a cluster).
    `tls=False`: plain HTTP/1.1."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tls: bool = True,
        cert_dir: str | Path | None = None,
        tls_files: TlsFiles | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.reuse_port = reuse_port  # several processes share one port (see cluster.py)
        self.core = FcmCore()
        self.tls_files = tls_files
        self._cert_dir = cert_dir
        self._server: asyncio.base_events.Server | None = None
        self._open: set[asyncio.BaseTransport] = set()
        self._made_dir: str | None = None  # a temporary certificate directory this endpoint removes at close

    @property
    def state(self) -> State:
        return self.core.state

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def ca_file(self) -> str | None:
        """The CA certificate clients must trust (None in plain mode)."""
        return str(self.tls_files.ca) if self.tls and self.tls_files else None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        context = None
        if self.tls:
            if self.tls_files is None:
                directory = self._cert_dir
                if directory is None:
                    directory = self._made_dir = tempfile.mkdtemp(prefix="nudge-fcm-tls-")
                self.tls_files = make_certificates(directory, tuple(dict.fromkeys((self.host, "localhost"))))
            context = server_context(self.tls_files)
        self._server = await loop.create_server(
            lambda: _Negotiated(self.core, self._open),
            self.host,
            self.port,
            ssl=context,
            reuse_port=self.reuse_port or None,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for transport in list(self._open):  # the listener is closed; connections are not, until now
                transport.abort()  # type: ignore[attr-defined]
            await self._server.wait_closed()
            self._server = None
        if self._made_dir is not None:
            shutil.rmtree(self._made_dir, ignore_errors=True)
            self._made_dir = None

    def fail(self, error: str | None = None, **kwargs: Any) -> Rule:
        """Inject a rule (see FcmCore.fail)."""
        return self.core.fail(error, **kwargs)

    def reset(self) -> None:
        self.core.reset()

    def stats(self) -> dict[str, Any]:
        return self.core.stats()
