"""A provider that POSTs each push to a URL, signed with HMAC-SHA256 over the body."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

import aiohttp

from connectors.delivery.errors import ProviderConfigError
from connectors.delivery.providers.base import Send, SendResult, payload_data

SIGNATURE_HEADER = "X-Nudge-Signature"


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value: `sha256=<hex hmac>`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _status_code(status: int) -> str:
    if status == 429:
        return "QUOTA_EXCEEDED"
    if status in (404, 410):
        return "UNREGISTERED"
    if status >= 500:
        return "UNAVAILABLE" if status == 503 else "INTERNAL"
    return "INVALID_ARGUMENT"


class WebhookProvider:
    """POST JSON to `url`; 2xx = sent, 404/410 = token gone, 429/5xx = retry, other 4xx = fatal."""

    name = "webhook"
    max_batch = 500

    def __init__(self, url: str, secret: str, timeout_s: float = 10.0) -> None:
        if not url or not secret:
            raise ProviderConfigError("the webhook provider needs a URL and a signing secret")
        self._url = url
        self._secret = secret.encode()
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def _one(self, send: Send) -> SendResult:
        assert self._session is not None, "start() first"
        job = send.job
        body = json.dumps(
            {"token": send.token, "platform": send.platform, "title": job.title, "body": job.body}
            | {"image_url": job.image_url, "priority": job.priority, "ttl_seconds": job.ttl_seconds}
            | {"collapse_key": job.collapse_key, "data": payload_data(job)}
        ).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self._secret, body)}
        try:
            async with self._session.post(self._url, data=body, headers=headers) as resp:
                text = await resp.text()
                if resp.status < 300:
                    return SendResult(True, resp.headers.get("X-Message-Id") or f"webhook/{job.job_id}")
                retry_after = resp.headers.get("Retry-After")
                return SendResult(
                    False, None, _status_code(resp.status), float(retry_after) if retry_after else None, text[:200]
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            return SendResult(False, None, "UNAVAILABLE", None, type(exc).__name__)

    async def send_batch(self, sends: list[Send]) -> list[SendResult]:
        return list(await asyncio.gather(*(self._one(s) for s in sends)))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
