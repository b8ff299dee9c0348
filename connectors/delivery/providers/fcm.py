"""FCM through the real firebase-admin client (`send_each_async`), with an optional endpoint override."""

from __future__ import annotations

import asyncio
import json
import uuid
import warnings
from typing import Any

import firebase_admin
from firebase_admin import credentials, exceptions, messaging

from connectors.delivery.errors import ProviderConfigError
from connectors.delivery.providers.base import Outcome, Send, payload_data
from schemas.records import NotificationJob

# FCM's own limit for one send_each call.
FCM_MAX_BATCH = 500
# Messages per send_each_async call. FCM v1 is one HTTP request per message; firebase-admin's httpx
# pool has 100 connections, and requests queued beyond that cost quadratic time in httpcore's
# scheduler (seen in profiles with 500 at once), so a batch goes out in slices that fit the pool.
IN_FLIGHT = 100
FCM_ERROR_DETAIL = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


def build_message(job: NotificationJob, token: str, platform: str) -> messaging.Message:
    """One FCM message: notification + data, and the per-platform options of the job."""
    ttl = max(job.ttl_seconds, 0)
    high = job.priority == "high"
    image = job.image_url
    link = job.deep_link if job.deep_link and job.deep_link.startswith("https://") else None
    apns_headers = {"apns-priority": "10" if high else "5"}
    if job.collapse_key:
        apns_headers["apns-collapse-id"] = job.collapse_key[:64]
    webpush_headers = {"TTL": str(ttl), "Urgency": "high" if high else "normal"}
    if job.collapse_key:
        webpush_headers["Topic"] = job.collapse_key[:32]
    with warnings.catch_warnings():
        # `token` still addresses registration tokens (what device.tokens holds); `fid` is for installation ids.
        warnings.simplefilter("ignore", DeprecationWarning)
        return messaging.Message(
            token=token,
            data=payload_data(job),
            notification=messaging.Notification(title=job.title, body=job.body, image=image),
            android=messaging.AndroidConfig(
                collapse_key=job.collapse_key,
                priority="high" if high else "normal",
                ttl=ttl,
                notification=messaging.AndroidNotification(image=image) if image else None,
            ),
            apns=messaging.APNSConfig(
                headers=apns_headers,
                payload=messaging.APNSPayload(aps=messaging.Aps(mutable_content=bool(image))),
                fcm_options=messaging.APNSFCMOptions(image=image) if image else None,
            ),
            webpush=messaging.WebpushConfig(
                headers=webpush_headers,
                notification=messaging.WebpushNotification(image=image) if image else None,
                fcm_options=messaging.WebpushFCMOptions(link=link) if link else None,
            ),
        )


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

    def __init__(self, project_id: str | None, credentials_file: str | None, endpoint: str | None = None) -> None:
        self._project_id = project_id
        self._credentials_file = credentials_file
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self._app: firebase_admin.App | None = None

    async def start(self) -> None:
        try:
            cred = credentials.Certificate(self._credentials_file) if self._credentials_file else None
        except (ValueError, OSError) as exc:
            # The message names the file, never its content.
            raise ProviderConfigError(f"cannot read FCM credentials from {self._credentials_file}: {exc}") from exc
        options = {"projectId": self._project_id} if self._project_id else {}
        self._app = firebase_admin.initialize_app(cred, options, name=f"nudge-{uuid.uuid4().hex[:8]}")
        service = messaging._get_messaging_service(self._app)
        if self._endpoint:
            # firebase-admin 7 has no FCM emulator setting: its URL is fixed per service instance, so
            # the override replaces that one attribute on this app's service and nothing else.
            service._fcm_url = f"{self._endpoint}/v1/projects/{self._app.project_id}/messages:send"
        # Fetch the first OAuth token off the event loop: google-auth refreshes with blocking I/O.
        await asyncio.to_thread(_refresh, service._credential)

    async def send_batch(self, sends: list[Send]) -> list[Outcome]:
        messages = [build_message(s.job, s.token, s.platform) for s in sends]
        outcomes: list[Outcome] = []
        for start in range(0, len(messages), IN_FLIGHT):
            chunk = messages[start : start + IN_FLIGHT]
            try:
                batch = await messaging.send_each_async(chunk, app=self._app)
            except exceptions.FirebaseError as exc:
                outcomes.extend(Outcome(False, None, "UNAVAILABLE", None, str(exc)[:200]) for _ in chunk)
                continue
            for resp in batch.responses:
                if resp.success:
                    outcomes.append(Outcome(True, resp.message_id))
                else:
                    code, retry_after = error_code(resp.exception)
                    outcomes.append(Outcome(False, None, code, retry_after, str(resp.exception)[:200]))
        return outcomes

    async def close(self) -> None:
        if self._app is not None:
            service = messaging._get_messaging_service(self._app)
            await service._async_client.aclose()
            # delete_app closes services with asyncio.run(), which needs a thread without a running loop.
            await asyncio.to_thread(firebase_admin.delete_app, self._app)
            self._app = None


def _refresh(credential: Any) -> None:
    import google.auth.transport.requests

    credential.refresh(google.auth.transport.requests.Request())
