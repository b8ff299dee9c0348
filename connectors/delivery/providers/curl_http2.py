"""POST many bodies to one URL over a few multiplexed HTTP/2 connections: libcurl's multi interface (pycurl).

libcurl (with nghttp2 and OpenSSL, bundled in pycurl's wheel) does the protocol in C: TLS, ALPN, HPACK,
flow control, the server's stream limit (streams beyond it wait for a free one), GOAWAY and refused
streams (retried on a new connection, as they were never processed). Python only hands over prepared
bodies and reads back status, body and Retry-After, so a request costs a few microseconds of Python.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import certifi
import pycurl

# Connections per host. HTTP/2 multiplexes: two spread the TLS work and survive one being reset or
# drained (GOAWAY) without stalling the other. Plain http:// (HTTP/1.1, the local plain mode) cannot
# multiplex, so it gets enough connections to keep a chunk moving.
HTTP2_CONNECTIONS = 2
PLAIN_CONNECTIONS = 16
# Streams per connection we open at most (the server's own limit applies on top: Google allows 100).
STREAMS_PER_CONNECTION = 100
TIMEOUT_S = 30.0  # one request, connect included: FCM answers in 50-300 ms, a stuck one gets retried later
CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Answer:
    """One response, or a transport failure (`status` 0, libcurl's error code and message)."""

    status: int
    body: bytes = b""
    retry_after_s: float | None = None
    error: str | None = None
    curl_code: int = 0


def has_http2() -> bool:
    """Whether this libcurl speaks HTTP/2 (pycurl's wheels bundle one built with nghttp2)."""
    return bool(pycurl.version_info()[4] & pycurl.VERSION_HTTP2)


class CurlHttp2:
    """One libcurl multi handle with reusable easy handles; `post_many` is called from one thread at a time."""

    def __init__(
        self,
        *,
        connections: int = HTTP2_CONNECTIONS,
        ca_file: str | None = None,
        timeout_s: float = TIMEOUT_S,
        max_in_flight: int | None = None,
    ) -> None:
        self._connections = max(connections, 1)
        self._ca_file = ca_file or certifi.where()
        self._timeout_ms = int(timeout_s * 1000)
        # No more transfers than streams: libcurl re-tries a connection for every pending transfer each time
        # a stream frees up, so transfers queued beyond the streams cost CPU while they wait.
        self._max_in_flight = max(max_in_flight or self._connections * STREAMS_PER_CONNECTION, 1)
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
        self._multi.setopt(pycurl.M_MAX_CONCURRENT_STREAMS, STREAMS_PER_CONNECTION)
        self._limit_for: str | None = None
        self._free: list[pycurl.Curl] = []
        self._lock = threading.Lock()  # a second caller waits rather than sharing the multi handle
        self.connects = 0  # connections opened so far (tests and the bench read it)

    def _handle(self) -> pycurl.Curl:
        if self._free:
            return self._free.pop()
        curl = pycurl.Curl()
        curl.setopt(pycurl.POST, 1)
        curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_2TLS)  # h2 by ALPN over TLS, 1.1 over http://
        curl.setopt(pycurl.PIPEWAIT, 1)  # wait to multiplex on a connection being set up rather than open another
        curl.setopt(pycurl.CAINFO, self._ca_file)  # verification stays on: only the trusted CA changes
        curl.setopt(pycurl.TIMEOUT_MS, self._timeout_ms)
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, int(CONNECT_TIMEOUT_S * 1000))
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.chunks = []  # type: ignore[attr-defined]
        curl.target = None  # type: ignore[attr-defined]  # the (url, headers) it was last set up for
        curl.setopt(pycurl.WRITEFUNCTION, curl.chunks.append)  # type: ignore[attr-defined]
        return curl

    def _limit(self, url: str) -> None:
        if self._limit_for == url:
            return
        plain = url.startswith("http://")
        self._multi.setopt(pycurl.M_MAX_HOST_CONNECTIONS, PLAIN_CONNECTIONS if plain else self._connections)
        self._limit_for = url

    def post_many(self, url: str, headers: list[str], bodies: list[bytes]) -> list[Answer]:
        """POST each body (same URL and headers); answers in the order of `bodies`. Blocks until all are done."""
        with self._lock:
            return self._post_many(url, headers, bodies)

    def _post_many(self, url: str, headers: list[str], bodies: list[bytes]) -> list[Answer]:
        self._limit(url)
        multi = self._multi
        answers: list[Answer | None] = [None] * len(bodies)
        in_flight: dict[int, tuple[pycurl.Curl, int]] = {}  # id(handle) -> (handle, position in bodies)
        next_body = 0
        try:
            while next_body < len(bodies) or in_flight:
                while next_body < len(bodies) and len(in_flight) < self._max_in_flight:
                    curl = self._handle()
                    target = (url, headers)
                    if curl.target != target:  # type: ignore[attr-defined]  # libcurl parses them once per handle
                        curl.setopt(pycurl.URL, url)
                        curl.setopt(pycurl.HTTPHEADER, headers)
                        curl.target = target  # type: ignore[attr-defined]
                    curl.setopt(pycurl.POSTFIELDS, bodies[next_body])
                    in_flight[id(curl)] = (curl, next_body)
                    multi.add_handle(curl)
                    next_body += 1
                while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
                    pass
                while True:
                    queued, done, failed = multi.info_read()
                    for curl in done:
                        answers[in_flight.pop(id(curl))[1]] = self._answer(curl)
                        self._release(curl)
                    for curl, code, message in failed:
                        answers[in_flight.pop(id(curl))[1]] = Answer(
                            0, error=message or "transfer failed", curl_code=code
                        )
                        self._release(curl)
                    if not queued:
                        break
                if in_flight:
                    # libcurl may need a call again before any socket is ready (a pending stream waiting
                    # for a free slot, a timer): wait no longer than it asks, or transfers stall.
                    wait_ms = multi.timeout()
                    multi.select(1.0 if wait_ms < 0 else min(wait_ms, 1000) / 1000)
        finally:
            for curl, _ in in_flight.values():  # only after an exception: a normal return leaves nothing in flight
                self._release(curl)
        return [a if a is not None else Answer(0, error="not sent") for a in answers]

    def _answer(self, curl: pycurl.Curl) -> Answer:
        status = curl.getinfo(pycurl.RESPONSE_CODE)
        body = b"".join(curl.chunks)  # type: ignore[attr-defined]
        self.connects += curl.getinfo(pycurl.NUM_CONNECTS)
        if status < 400:
            return Answer(status, body)
        retry_after = curl.getinfo(pycurl.RETRY_AFTER)  # libcurl parses both seconds and HTTP dates
        return Answer(status, body, float(retry_after) if retry_after else None)

    def _release(self, curl: pycurl.Curl) -> None:
        self._multi.remove_handle(curl)
        curl.chunks.clear()  # type: ignore[attr-defined]
        self._free.append(curl)

    def close(self) -> None:
        with self._lock:
            for curl in self._free:
                curl.close()
            self._free.clear()
            self._multi.close()
