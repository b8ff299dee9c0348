"""HTTP/2 for the local FCM endpoint (the `h2` state machine on asyncio), with Google's stream limit."""

from __future__ import annotations

import asyncio

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from connectors.fcm_local.core import RESET, FcmCore, Reply
from connectors.fcm_local.http1 import close_soon, reset_soon

# Google's front ends allow 100 concurrent streams per connection: a client must queue or open more.
MAX_CONCURRENT_STREAMS = 100
# Windows large enough that flow control never paces a 500-message chunk on one connection.
WINDOW = 16 * 1024 * 1024


class Http2Protocol(asyncio.Protocol):
    """One HTTP/2 connection: each stream's request goes to the core when it ends; answers in any order."""

    def __init__(self, core: FcmCore) -> None:
        self.core = core
        config = h2.config.H2Configuration(client_side=False, header_encoding=None, validate_inbound_headers=False)
        self.conn = h2.connection.H2Connection(config)
        self.transport: asyncio.Transport | None = None
        self.requests: dict[int, tuple[list[tuple[bytes, bytes]], list[bytes]]] = {}
        self.pending: dict[int, asyncio.Future[Reply]] = {}
        self.last_answered = 0
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.conn.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_CONCURRENT_STREAMS,
                h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW,
            },
        )
        self.conn.initiate_connection()
        self.conn.increment_flow_control_window(WINDOW)
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for task in self.pending.values():
            task.cancel()  # never answered, so never accepted
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self._send()  # h2 queued a GOAWAY saying why
            self._close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.requests[event.stream_id] = (event.headers, [])  # type: ignore[assignment]
            elif isinstance(event, h2.events.DataReceived):
                request = self.requests.get(event.stream_id)
                if request is not None:
                    request[1].append(event.data)  # type: ignore[arg-type]
                # The connection window is credited at once; each stream's window is large enough for a message.
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self._request(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                self.requests.pop(event.stream_id, None)
                task = self.pending.pop(event.stream_id, None)
                if task is not None:
                    task.cancel()
            if self.closed:
                return
        self._send()

    def _request(self, stream_id: int) -> None:
        headers, chunks = self.requests.pop(stream_id)
        pseudo: dict[bytes, bytes] = {}
        fields: dict[str, str] = {}
        for name, value in headers:
            if name.startswith(b":"):
                pseudo[name] = value
            else:
                fields[name.decode("latin-1")] = value.decode("latin-1")
        path = pseudo.get(b":path", b"/").decode("latin-1").split("?", 1)[0]
        reply = self.core.handle(pseudo.get(b":method", b"GET").decode(), path, fields, b"".join(chunks))
        if isinstance(reply, Reply):
            self._answer(stream_id, reply)
            return
        task = asyncio.ensure_future(reply)
        self.pending[stream_id] = task
        task.add_done_callback(lambda t, sid=stream_id: self._answer_later(sid, t))  # type: ignore[misc]

    def _answer_later(self, stream_id: int, task: asyncio.Future[Reply]) -> None:
        if self.pending.pop(stream_id, None) is None or task.cancelled() or self.closed:
            return
        self._answer(stream_id, task.result())
        self._send()

    def _answer(self, stream_id: int, reply: Reply) -> None:
        if reply.drop:
            self._drop(reply.drop)
            return
        headers: list[tuple[bytes, bytes]] = [(b":status", str(reply.status).encode())]
        headers += [(k.encode(), v.encode()) for k, v in reply.headers]
        headers.append((b"content-length", str(len(reply.body)).encode()))
        try:
            self.conn.send_headers(stream_id, headers, end_stream=not reply.body)
            if reply.body:
                self.conn.send_data(stream_id, reply.body, end_stream=True)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return  # the client reset the stream meanwhile
        self.last_answered = max(self.last_answered, stream_id)

    def _drop(self, how: str) -> None:
        self.closed = True
        for task in self.pending.values():
            task.cancel()
        self.pending.clear()
        if self.transport is None:
            return
        if how == RESET:
            self._send()
            reset_soon(self.transport)
            return
        # GOAWAY: every stream after the last one answered was not processed; the client may retry them.
        self.conn.close_connection(last_stream_id=self.last_answered)
        self._send()
        close_soon(self.transport)

    def _send(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
