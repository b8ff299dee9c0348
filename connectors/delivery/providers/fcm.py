"""FCM via firebase-admin's own `send_each_async` (NUDGE_FCM_TRANSPORT=firebase-admin), and what both paths share."""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import uuid
import warnings
from typing import Any, NamedTuple

import firebase_admin
import google.auth.transport.requests
import httpx
import requests
from firebase_admin import credentials, exceptions, messaging

from connectors.delivery.errors import ProviderConfigError
from connectors.delivery.providers.base import Send, SendResult, payload_data
from schemas.records import NotificationJob

# FCM's own limit for one send_each call.
FCM_MAX_BATCH = 500
# FCM v1 is one HTTP request per message, and firebase-admin gives each App one httpx client. In
# httpcore's HTTP/1.1 pool every request that starts while others start picks the same idle
# connection, all but one fail over and try again, so K requests at once cost ~K^2/2 attempts (and
# each attempt scans every pooled connection); profiles showed ~50 attempts per message at 100 at
# once. So a batch goes out over LANES apps (one pool each, sharing one credential and its token),
# each sending slices of IN_FLIGHT messages: LANES * IN_FLIGHT requests in flight, herds of IN_FLIGHT.
# (Against Google the client speaks HTTP/2, where one connection carries many streams.)
LANES = 16
IN_FLIGHT = 2
FCM_ERROR_DETAIL = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
encode_message = messaging._MessagingService.encode_message  # firebase-admin's validating encoder (a classmethod)


class PlatformOptions(NamedTuple):
    """What a job's android/apns/webpush sections depend on: few distinct values per trigger."""

    high: bool
    ttl: int
    collapse_key: str | None
    image: str | None
    link: str | None  # an https deep link (FCM takes no other for web push)


def platform_options(job: NotificationJob) -> PlatformOptions:
    link = job.deep_link if job.deep_link and job.deep_link.startswith("https://") else None
    return PlatformOptions(job.priority == "high", max(job.ttl_seconds, 0), job.collapse_key, job.image_url, link)


def platform_configs(o: PlatformOptions) -> dict[str, Any]:
    """The per-platform options of a message (`messaging.Message` keyword arguments)."""
    apns_headers = {"apns-priority": "10" if o.high else "5"}
    webpush_headers = {"TTL": str(o.ttl), "Urgency": "high" if o.high else "normal"}
    if o.collapse_key:
        apns_headers["apns-collapse-id"] = o.collapse_key[:64]
        webpush_headers["Topic"] = o.collapse_key[:32]
    return {
        "android": messaging.AndroidConfig(
            collapse_key=o.collapse_key,
            priority="high" if o.high else "normal",
            ttl=o.ttl,
            notification=messaging.AndroidNotification(image=o.image) if o.image else None,
        ),
        "apns": messaging.APNSConfig(
            headers=apns_headers,
            payload=messaging.APNSPayload(aps=messaging.Aps(mutable_content=bool(o.image))),
            fcm_options=messaging.APNSFCMOptions(image=o.image) if o.image else None,
        ),
        "webpush": messaging.WebpushConfig(
            headers=webpush_headers,
            notification=messaging.WebpushNotification(image=o.image) if o.image else None,
            fcm_options=messaging.WebpushFCMOptions(link=o.link) if o.link else None,
        ),
    }


def core_message(job: NotificationJob, token: str, **options: Any) -> messaging.Message:
    """One FCM message for `token`: notification + data (+ the platform `options`, if given)."""
    with warnings.catch_warnings():
        # `token` still addresses registration tokens (what device.tokens holds); `fid` is for installation ids.
        warnings.simplefilter("ignore", DeprecationWarning)
        return messaging.Message(
            token=token,
            data=payload_data(job),
            notification=messaging.Notification(title=job.title, body=job.body, image=job.image_url),
            **options,
        )


def build_message(job: NotificationJob, token: str, platform: str) -> messaging.Message:
    """One FCM message: notification + data, and the per-platform options of the job."""
    return core_message(job, token, **platform_configs(platform_options(job)))


@functools.lru_cache(maxsize=4096)
def encoded_platform_configs(options: PlatformOptions) -> dict[str, Any]:
    """firebase-admin's encoding of the platform sections, once per distinct options (read-only: shared)."""
    encoded = encode_message(messaging.Message(topic="options", **platform_configs(options)))
    del encoded["topic"]
    return encoded


def encode_fcm_message(job: NotificationJob, token: str) -> dict[str, Any]:
    """`encode_message(build_message(job, token, ...))`, with the platform sections encoded once per options.

    Both halves go through firebase-admin's validating encoder; the sections it returns are disjoint."""
    return {**encode_message(core_message(job, token)), **encoded_platform_configs(platform_options(job))}


def error_code(exc: exceptions.FirebaseError) -> tuple[str, float | None]:
    """FCM's errorCode (or the platform code) and Retry-After seconds of a failed send."""
    response: Any = exc.http_response
    retry_after = None
    code = None
    if response is not None:
        header = response.headers.get("Retry-After")
        if header:
            try:
                retry_after = float(header)
            except ValueError:
                retry_after = None  # an HTTP-date: fall back to our own backoff
        try:
            for detail in json.loads(response.content).get("error", {}).get("details", []):
                if detail.get("@type") == FCM_ERROR_DETAIL:
                    code = detail.get("errorCode")
        except (ValueError, AttributeError):
            code = None
    if code == "INVALID_ARGUMENT" or (code is None and exc.code == exceptions.INVALID_ARGUMENT):
        # FCM reports a malformed token as INVALID_ARGUMENT; the token is dead, the job is not.
        code = "INVALID_TOKEN" if "registration token" in str(exc) else "INVALID_ARGUMENT"
    if code is None:
        code = "QUOTA_EXCEEDED" if exc.code == exceptions.RESOURCE_EXHAUSTED else exc.code
    return code, retry_after


class FcmProvider:
    """Send through firebase-admin; `endpoint` (e.g. the local FCM endpoint) replaces fcm.googleapis.com."""

    name = "fcm"
    max_batch = FCM_MAX_BATCH

    def __init__(
        self,
        project_id: str | None,
        credentials_file: str | None,
        endpoint: str | None = None,
        *,
        ca_file: str | None = None,
        lanes: int = LANES,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self._project_id = project_id
        self._credentials_file = credentials_file
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self._ca_file = ca_file
        self._lanes = max(lanes, 1)
        self._in_flight = max(in_flight, 1)
        self._apps: list[firebase_admin.App] = []
        self._more: asyncio.Future | None = None

    async def start(self) -> None:
        self._cred = load_credential(self._credentials_file)
        self._options = {"projectId": self._project_id} if self._project_id else {}
        self._run = uuid.uuid4().hex[:8]
        self._closing = False
        self._apps.append(self._new_app(0))
        # Fetch the first OAuth token off the event loop: google-auth refreshes with blocking I/O.
        credential = messaging._get_messaging_service(self._apps[0])._credential
        if self._ca_file:
            refresh_through(credential, self._ca_file)
        await asyncio.to_thread(credential.refresh, google.auth.transport.requests.Request())
        if self._lanes > 1:
            # Each app builds its own httpx client (~0.1-0.3 s of TLS setup): the other lanes come up on a
            # thread while the first one already sends.
            self._more = asyncio.ensure_future(asyncio.to_thread(self._add_lanes))

    async def ready(self) -> None:
        """Wait until every lane's client is built (start() returns after the first one)."""
        if self._more is not None:
            await self._more
            self._more = None

    def _new_app(self, lane: int) -> firebase_admin.App:
        # One credential object for every app: one OAuth token, refreshed once for all of them.
        app = firebase_admin.initialize_app(self._cred, self._options, name=f"nudge-{self._run}-{lane}")
        service = messaging._get_messaging_service(app)
        point_at(service, self._endpoint)
        if self._ca_file:
            # httpx verifies against certifi's roots; the local endpoint's CA is added as the one trusted root.
            context = ssl.create_default_context(cafile=self._ca_file)
            for transport in service._async_client._mounts.values():
                transport._wrapped_transport = httpx.AsyncHTTPTransport(http2=True, retries=0, verify=context)
        return app

    def _add_lanes(self) -> None:
        for lane in range(1, self._lanes):
            if self._closing:
                return
            self._apps.append(self._new_app(lane))  # list.append is atomic; senders see it next batch

    async def _send_slice(self, app: firebase_admin.App, chunk: list[messaging.Message]) -> list[SendResult]:
        try:
            batch = await messaging.send_each_async(chunk, app=app)
        except exceptions.FirebaseError as exc:
            return [SendResult(False, None, "UNAVAILABLE", None, str(exc)[:200]) for _ in chunk]
        outcomes = []
        for resp in batch.responses:
            if resp.success:
                outcomes.append(SendResult(True, resp.message_id))
            else:
                code, retry_after = error_code(resp.exception)
                outcomes.append(SendResult(False, None, code, retry_after, str(resp.exception)[:200]))
        return outcomes

    async def send_batch(self, sends: list[Send]) -> list[SendResult]:
        messages = [build_message(s.job, s.token, s.platform) for s in sends]
        step = self._in_flight
        slices = [messages[start : start + step] for start in range(0, len(messages), step)]
        answers: list[list[SendResult]] = [[] for _ in slices]
        apps = list(self._apps)

        async def lane(index: int) -> None:
            for n in range(index, len(slices), len(apps)):
                answers[n] = await self._send_slice(apps[index], slices[n])

        await asyncio.gather(*(lane(i) for i in range(min(len(apps), len(slices)))))
        return [outcome for answer in answers for outcome in answer]

    async def close(self) -> None:
        self._closing = True
        if self._more is not None:
            await self._more
            self._more = None
        apps, self._apps = self._apps, []
        for app in apps:
            await messaging._get_messaging_service(app)._async_client.aclose()
            # delete_app closes services with asyncio.run(), which needs a thread without a running loop.
            await asyncio.to_thread(firebase_admin.delete_app, app)


def load_credential(credentials_file: str | None) -> credentials.Base:
    """The service account of `credentials_file`, else Application Default Credentials."""
    try:
        return credentials.Certificate(credentials_file) if credentials_file else credentials.ApplicationDefault()
    except (ValueError, OSError) as exc:
        # The message names the file, never its content.
        raise ProviderConfigError(f"cannot read FCM credentials from {credentials_file}: {exc}") from exc


def point_at(service: Any, endpoint: str | None) -> None:
    """Send this messaging service's requests to `endpoint` (e.g. the local FCM endpoint) instead of Google."""
    if endpoint:
        # firebase-admin 7 has no FCM emulator setting: its URL is fixed per service instance, so the
        # override replaces that one attribute on this app's service and nothing else.
        service._fcm_url = f"{endpoint.rstrip('/')}/v1/projects/{service._project_id}/messages:send"


def trusting_session(ca_file: str | None) -> requests.Session:
    """A requests session for OAuth token refreshes; with `ca_file`, it verifies against that CA only."""
    session = requests.Session()
    if ca_file:
        session.verify = ca_file
        # Otherwise REQUESTS_CA_BUNDLE from the environment would win over the session's own setting.
        session.trust_env = False
    return session


def refresh_through(credential: Any, ca_file: str) -> None:
    """Make `credential` fetch its OAuth tokens through a session that trusts `ca_file` (the local CA).

    google-auth refreshes through whatever request object its caller passes, and firebase-admin's
    callers build a default one (public roots only); the local token endpoint's certificate is signed
    by the local CA, so this credential's refresh always uses a session verifying against that CA."""
    request = google.auth.transport.requests.Request(trusting_session(ca_file))
    refresh = credential.refresh
    credential.refresh = lambda _ignored: refresh(request)
