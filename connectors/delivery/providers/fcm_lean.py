"""FCM with firebase-admin's model, encoder, credentials and error types, sent by libcurl over HTTP/2 (the default).

firebase-admin's own `send_each_async` spends ~1-3 ms of CPU per message in httpx/httpcore/h2/anyio
(streams/bench/NOTES.md). This provider keeps what firebase-admin is good at: `messaging.Message` and its
validating JSON encoder, the credential and its OAuth refresh (google-auth), the URL and headers of the
app's messaging service, and its FCM error types built from the error responses. Only the transport
changes: a chunk's encoded messages go to libcurl (curl_http2.py) on one thread, multiplexed over a few
HTTP/2 connections, while the event loop keeps doing the worker's Kafka and Redis work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
import uuid

import firebase_admin
import google.auth.transport.requests
import httpx
import orjson
import pycurl
from firebase_admin import _http_client, _utils, exceptions, messaging

from connectors.delivery.errors import ProviderConfigError
from connectors.delivery.providers.base import Send, SendResult
from connectors.delivery.providers.curl_http2 import HTTP2_CONNECTIONS, Answer, CurlHttp2, has_http2
from connectors.delivery.providers.fcm import (
    FCM_MAX_BATCH,
    encode_fcm_message,
    error_code,
    load_credential,
    point_at,
    trusting_session,
)

# libcurl error codes that say the request never left (firebase-admin's UnavailableError) or timed out
# (DeadlineExceededError); any other transport failure is UnknownError. Every one of them is retried.
_NOT_CONNECTED = {6, 7, 35, 60}  # could not resolve, could not connect, TLS handshake, certificate
_TIMED_OUT = {28}


class LeanFcmProvider:
    """Send through FCM's HTTP v1 API with libcurl; `endpoint` (e.g. the local endpoint) replaces Google."""

    name = "fcm"
    max_batch = FCM_MAX_BATCH

    def __init__(
        self,
        project_id: str | None,
        credentials_file: str | None,
        endpoint: str | None = None,
        *,
        ca_file: str | None = None,
        connections: int = HTTP2_CONNECTIONS,
    ) -> None:
        self._project_id = project_id
        self._credentials_file = credentials_file
        self._endpoint = endpoint
        self._ca_file = ca_file
        self._connections = connections
        self._app: firebase_admin.App | None = None
        self._client: CurlHttp2 | None = None
        # One thread owns libcurl: a chunk's transfers run there while the event loop goes on.
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fcm-http2")
        self._token_lock = threading.Lock()

    @property
    def client(self) -> CurlHttp2:
        assert self._client is not None, "start() first"
        return self._client

    async def start(self) -> None:
        if not has_http2():
            raise ProviderConfigError(
                f"libcurl without HTTP/2 ({pycurl.version}): install pycurl's binary wheel, or build it against a "
                "libcurl with nghttp2; NUDGE_FCM_TRANSPORT=firebase-admin works meanwhile"
            )
        credential = load_credential(self._credentials_file)
        options = {"projectId": self._project_id} if self._project_id else {}
        self._app = firebase_admin.initialize_app(credential, options, name=f"nudge-lean-{uuid.uuid4().hex[:8]}")
        service = messaging._get_messaging_service(self._app)
        point_at(service, self._endpoint)
        self._service = service
        self._url = service._fcm_url
        self._credential = service._credential
        self._auth_request = google.auth.transport.requests.Request(trusting_session(self._ca_file))
        self._static_headers = [
            f"{k}: {v}" for k, v in {**service._fcm_headers, **_http_client.METRICS_HEADERS}.items()
        ]
        self._static_headers.append("Content-Type: application/json; charset=UTF-8")
        self._client = CurlHttp2(connections=self._connections, ca_file=self._ca_file)
        await asyncio.get_running_loop().run_in_executor(self._thread, self._headers, False)

    def _headers(self, force_refresh: bool) -> list[str]:
        """The request headers with a valid bearer token, refreshed (blocking) when due or when told to."""
        with self._token_lock:
            if force_refresh or not self._credential.valid:
                self._credential.refresh(self._auth_request)
            return [*self._static_headers, f"Authorization: Bearer {self._credential.token}"]

    def prepare(self, sends: list[Send]) -> list[Send]:
        """The same Sends with their `messages:send` bodies (or the ValueError firebase-admin raised)."""
        prepared = []
        for send in sends:
            if send.payload is not None:
                prepared.append(send)
                continue
            try:
                payload: bytes | Exception = orjson.dumps({"message": encode_fcm_message(send.job, send.token)})
            except ValueError as exc:
                payload = exc
            prepared.append(dataclasses.replace(send, payload=payload))
        return prepared

    def _post(self, bodies: list[bytes]) -> list[Answer]:
        answers = self.client.post_many(self._url, self._headers(False), bodies)
        stale = [i for i, a in enumerate(answers) if a.status == 401]
        if stale:  # the token expired server-side: refresh once and resend those (a 401 was never processed)
            again = self.client.post_many(self._url, self._headers(True), [bodies[i] for i in stale])
            for i, answer in zip(stale, again, strict=True):
                answers[i] = answer
        return answers

    async def send_batch(self, sends: list[Send]) -> list[SendResult]:
        encoded = [s.payload for s in self.prepare(sends)]
        bodies = [b for b in encoded if isinstance(b, bytes)]
        answers = iter(await asyncio.get_running_loop().run_in_executor(self._thread, self._post, bodies))
        outcomes = []
        for body in encoded:
            if not isinstance(body, bytes):  # firebase-admin refused the message: never sent, never retried
                outcomes.append(SendResult(False, None, "INVALID_ARGUMENT", None, str(body)[:200]))
            else:
                outcomes.append(self._outcome(next(answers)))
        return outcomes

    def _outcome(self, answer: Answer) -> SendResult:
        if answer.status == 200:
            try:
                return SendResult(True, orjson.loads(answer.body)["name"])
            except (orjson.JSONDecodeError, KeyError, TypeError):
                pass  # a 200 without a message name: FCM's contract broken, treated as unknown (retried)
        exc = self._error(answer)
        code, retry_after = error_code(exc)
        return SendResult(False, None, code, retry_after, str(exc)[:200])

    def _error(self, answer: Answer) -> exceptions.FirebaseError:
        """The FirebaseError firebase-admin raises for this answer (its own parsing and error types)."""
        request = httpx.Request("POST", self._url)
        if answer.status == 0:
            cls: type[httpx.TransportError] = httpx.TransportError
            if answer.curl_code in _NOT_CONNECTED:
                cls = httpx.ConnectError
            elif answer.curl_code in _TIMED_OUT:
                cls = httpx.TimeoutException
            return _utils.handle_httpx_error(cls(answer.error or "transfer failed", request=request))
        headers = {"Retry-After": f"{answer.retry_after_s:g}"} if answer.retry_after_s is not None else {}
        response = httpx.Response(answer.status, headers=headers, content=answer.body, request=request)
        error = httpx.HTTPStatusError(f"HTTP {answer.status}", request=request, response=response)
        return _utils.handle_platform_error_from_httpx(error, self._service._build_fcm_error_httpx)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await asyncio.get_running_loop().run_in_executor(self._thread, client.close)
        self._thread.shutdown(wait=True)
        if self._app is not None:
            app, self._app = self._app, None
            await asyncio.to_thread(firebase_admin.delete_app, app)
