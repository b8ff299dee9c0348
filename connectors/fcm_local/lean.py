"""A lean HTTP/1.1 server for the load cluster: `messages:send`, the OAuth token and /health, no framework.

The endpoint shares the machine with the worker it measures, so its CPU counts against the figure:
aiohttp's request/response machinery cost ~0.6 ms per message here, most of the endpoint's time.
This protocol parses what clients send (Content-Length bodies, keep-alive) and answers with the same
validation, error bodies and message names as LocalFcm; rules and the control API stay in LocalFcm.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import uuid
from typing import Any
from urllib.parse import parse_qs

from connectors.fcm_local.server import INVALID_TOKEN_PREFIX, TOKEN_PATH, State
from connectors.fcm_local.validation import FCM_ERRORS, InvalidMessage, error_body, validate_request

MAX_BODY = 1024 * 1024
_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 411: "Length Required",
    429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}  # fmt: skip
_SEND_PREFIX = "/v1/projects/"
_SEND_SUFFIX = "/messages:send"


class LeanFcm:
    """The hot path of the local endpoint on a bare asyncio.Protocol; `state`/`stats()` as in LocalFcm."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, reuse_port: bool = False) -> None:
        self.host = host
        self.port = port
        self.reuse_port = reuse_port
        self.state = State()
        self._server: asyncio.base_events.Server | None = None
        self._ids = itertools.count(1)
        self._id_prefix = f"{os.getpid():x}{uuid.uuid4().hex[:6]}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Protocol(self), self.host, self.port, reuse_port=self.reuse_port or None
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def stats(self) -> dict[str, Any]:
        return self.state.counts()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, str]:
        """One request -> (status, body, extra header lines)."""
        if method == "POST" and path.startswith(_SEND_PREFIX) and path.endswith(_SEND_SUFFIX):
            return self._send(path[len(_SEND_PREFIX) : -len(_SEND_SUFFIX)], headers, body)
        if method == "POST" and path == TOKEN_PATH:
            form = parse_qs(body.decode("utf-8", "replace"))
            if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or not form.get("assertion"):
                return _json(400, {"error": "invalid_grant", "error_description": "expected a JWT bearer assertion"})
            self.state.tokens_issued += 1
            return _json(200, {"access_token": f"local-{uuid.uuid4().hex}", "expires_in": 3600, "token_type": "Bearer"})
        if method == "GET" and path == "/health":
            return _json(200, {"ok": True})
        return _json(404, {"error": f"no route for {method} {path}"})

    def _reject(self, code: str) -> None:
        self.state.rejected[code] = self.state.rejected.get(code, 0) + 1

    def _fcm_error(self, code: str, message: str) -> tuple[int, bytes, str]:
        self._reject(code)
        http_status, status = FCM_ERRORS[code]
        return _json(http_status, error_body(http_status, status, message, code))

    def _send(self, project: str, headers: dict[str, str], raw: bytes) -> tuple[int, bytes, str]:
        self.state.requests += 1
        if not headers.get("authorization", "").startswith("Bearer "):
            self._reject("UNAUTHENTICATED")
            return _json(401, error_body(401, "UNAUTHENTICATED", "Request is missing required authentication."))
        try:
            message, validate_only = validate_request(json.loads(raw), raw_size=len(raw))
        except (InvalidMessage, ValueError) as exc:
            return self._fcm_error("INVALID_ARGUMENT", str(exc))
        token = message.get("token")
        if token is not None and token.startswith(INVALID_TOKEN_PREFIX):
            return self._fcm_error("INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")
        name = f"projects/{project}/messages/{self._id_prefix}{next(self._ids):x}"
        if not validate_only:
            self.state.accepted.append({"name": name, "message": message})
        return 200, b'{"name":"' + name.encode() + b'"}', ""


def _json(status: int, body: dict[str, Any]) -> tuple[int, bytes, str]:
    return status, json.dumps(body).encode(), ""


class _Protocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; requests on one connection are answered in order."""

    def __init__(self, server: LeanFcm) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            try:
                method, path, _ = head[0].split(" ", 2)
            except ValueError:
                self._fail(400, out)
                return
            headers = {}
            for line in head[1:]:
                key, _, value = line.partition(":")
                headers[key.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", ""):
                self._fail(411, out)  # every client here sends Content-Length
                return
            length = int(headers.get("content-length", "0") or 0)
            if length > MAX_BODY:
                self._fail(400, out)
                return
            if len(self.buffer) < end + 4 + length:
                break
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            status, payload, extra = self.server.handle(method, path.split("?", 1)[0], headers, body)
            close = headers.get("connection", "").lower() == "close"
            out.append(_response(status, payload, extra, close))
            if close:
                self._write(out)
                self.transport.close()  # type: ignore[union-attr]
                return
        self._write(out)

    def _write(self, out: list[bytes]) -> None:
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def _fail(self, status: int, out: list[bytes]) -> None:
        out.append(_response(status, json.dumps({"error": _REASONS.get(status, "")}).encode(), "", True))
        self._write(out)
        self.transport.close()  # type: ignore[union-attr]


def _response(status: int, body: bytes, extra: str, close: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}{'Connection: close' if close else 'Connection: keep-alive'}\r\n\r\n"
    )
    return head.encode() + body
