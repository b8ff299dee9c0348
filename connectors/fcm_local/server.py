"""A local FCM-compatible HTTP endpoint (FCM HTTP v1 `messages:send` + OAuth token) with a control API."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from connectors.fcm_local.validation import FCM_ERRORS, InvalidMessage, error_body, validate_request

SEND_PATH = "/v1/projects/{project}/messages:send"
TOKEN_PATH = "/token"
# Tokens with this prefix are malformed, the way FCM answers a garbage registration token.
INVALID_TOKEN_PREFIX = "invalid-"


@dataclass
class Rule:
    """An injected behaviour: an error and/or a delay, for `count` requests or until a deadline."""

    error: str | None = None
    delay_ms: int = 0
    retry_after_s: float | None = None
    token: str | None = None
    count: int | None = None
    until: float | None = None

    def live(self, now: float) -> bool:
        return (self.count is None or self.count > 0) and (self.until is None or now < self.until)


@dataclass
class State:
    """What the endpoint has seen; read by tests through the control API or directly."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    unregistered: set[str] = field(default_factory=set)
    rules: list[Rule] = field(default_factory=list)
    tokens_issued: int = 0

    def counts(self) -> dict[str, Any]:
        """Requests, accepted messages, rejections by code and tokens issued so far."""
        return {
            "requests": self.requests,
            "accepted": len(self.accepted),
            "rejected": dict(self.rejected),
            "tokens_issued": self.tokens_issued,
        }


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


def _fcm_error(code: str, message: str, retry_after_s: float | None = None) -> web.Response:
    http_status, status = FCM_ERRORS[code]
    headers = (
        {"Retry-After": str(int(retry_after_s) if retry_after_s == int(retry_after_s) else retry_after_s)}
        if (retry_after_s is not None)
        else None
    )
    return _json(http_status, error_body(http_status, status, message, code), headers)


class LocalFcm:
    """The endpoint: `await start()`, point firebase-admin at `base_url`, `await close()`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, reuse_port: bool = False) -> None:
        self.host = host
        self.port = port
        self.reuse_port = reuse_port  # several processes share one port (see cluster.py)
        self.state = State()
        self._runner: web.AppRunner | None = None
        # Message ids: unique per process without a uuid4 per message (the hot path).
        self._ids = itertools.count(1)
        self._id_prefix = f"{os.getpid():x}{uuid.uuid4().hex[:6]}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_post(SEND_PATH, self._send)
        app.router.add_post(TOKEN_PATH, self._token)
        app.router.add_get("/health", lambda _: _json(200, {"ok": True}))
        app.router.add_post("/control/fail", self._control_fail)
        app.router.add_post("/control/unregister", self._control_unregister)
        app.router.add_post("/control/reset", self._control_reset)
        app.router.add_get("/control/messages", self._control_messages)
        app.router.add_get("/control/stats", self._control_stats)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_port=self.reuse_port or None)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- control ---------------------------------------------------------------------------------

    def fail(self, error: str | None = None, **kwargs: Any) -> Rule:
        """Inject a rule (error code from FCM_ERRORS and/or delay_ms) for `count` requests or `seconds`."""
        if error is not None and error not in FCM_ERRORS:
            raise ValueError(f"unknown FCM error {error!r}; one of {sorted(FCM_ERRORS)}")
        seconds = kwargs.pop("seconds", None)
        rule = Rule(error=error, until=time.monotonic() + seconds if seconds else None, **kwargs)
        self.state.rules.append(rule)
        return rule

    def reset(self) -> None:
        self.state = State()

    def stats(self) -> dict[str, Any]:
        return self.state.counts()

    async def _control_fail(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            self.fail(**body)
        except (TypeError, ValueError) as exc:
            return _json(400, {"error": str(exc)})
        return _json(200, {"rules": len(self.state.rules)})

    async def _control_unregister(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.state.unregistered.update(body.get("tokens", []))
        return _json(200, {"unregistered": len(self.state.unregistered)})

    async def _control_reset(self, _: web.Request) -> web.Response:
        self.reset()
        return _json(200, {"ok": True})

    async def _control_messages(self, _: web.Request) -> web.Response:
        return _json(200, {"messages": self.state.accepted})

    async def _control_stats(self, _: web.Request) -> web.Response:
        return _json(200, self.stats())

    # -- FCM ---------------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not form.get("assertion"):
            return _json(400, {"error": "invalid_grant", "error_description": "expected a JWT bearer assertion"})
        self.state.tokens_issued += 1
        return _json(200, {"access_token": f"local-{uuid.uuid4().hex}", "expires_in": 3600, "token_type": "Bearer"})

    def _reject(self, code: str) -> None:
        self.state.rejected[code] = self.state.rejected.get(code, 0) + 1

    def _matching_rule(self, token: str | None) -> Rule | None:
        now = time.monotonic()
        self.state.rules = [r for r in self.state.rules if r.live(now)]
        for rule in self.state.rules:
            if rule.token is None or rule.token == token:
                if rule.count is not None:
                    rule.count -= 1
                return rule
        return None

    async def _send(self, request: web.Request) -> web.Response:
        self.state.requests += 1
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            self._reject("UNAUTHENTICATED")
            return _json(401, error_body(401, "UNAUTHENTICATED", "Request is missing required authentication."))
        raw = await request.read()
        try:
            message, validate_only = validate_request(json.loads(raw), raw_size=len(raw))
        except (InvalidMessage, ValueError) as exc:
            self._reject("INVALID_ARGUMENT")
            return _fcm_error("INVALID_ARGUMENT", str(exc))
        token = message.get("token")
        rule = self._matching_rule(token) if self.state.rules else None
        if rule is not None and rule.delay_ms:
            await asyncio.sleep(rule.delay_ms / 1000)
        if rule is not None and rule.error:
            self._reject(rule.error)
            return _fcm_error(rule.error, f"injected {rule.error}", rule.retry_after_s)
        if token is not None and token.startswith(INVALID_TOKEN_PREFIX):
            self._reject("INVALID_ARGUMENT")
            return _fcm_error("INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")
        if token in self.state.unregistered:
            self._reject("UNREGISTERED")
            return _fcm_error("UNREGISTERED", "Requested entity was not found.")
        name = f"projects/{request.match_info['project']}/messages/{self._id_prefix}{next(self._ids):x}"
        if not validate_only:
            self.state.accepted.append({"name": name, "message": message, "at": time.time()})
        # The one response FCM gives on success, written without a JSON encoder round trip.
        return web.Response(body=b'{"name":"' + name.encode() + b'"}', content_type="application/json")
