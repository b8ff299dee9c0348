"""What the local FCM endpoint answers, whatever carries the request: `messages:send`, OAuth token, control API."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
import uuid
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from connectors.fcm_local.validation import FCM_ERRORS, InvalidMessage, error_body, validate_request

TOKEN_PATH = "/token"
# Tokens with this prefix are malformed, the way FCM answers a garbage registration token.
INVALID_TOKEN_PREFIX = "invalid-"
SEND_PREFIX = "/v1/projects/"
SEND_SUFFIX = "/messages:send"
# What a rule may do to the connection instead of answering (the request is not accepted either way):
# RESET aborts it with a TCP reset; GOAWAY refuses this stream and later ones (HTTP/2 GOAWAY) and closes.
RESET = "reset"
GOAWAY = "goaway"
CONNECTION_FAULTS = (RESET, GOAWAY)
JSON = (("content-type", "application/json"),)


@dataclass
class Rule:
    """An injected behaviour: an error, a delay and/or a connection fault, for `count` requests or until a deadline."""

    error: str | None = None
    delay_ms: int = 0
    retry_after_s: float | None = None
    token: str | None = None
    count: int | None = None
    until: float | None = None
    connection: str | None = None

    def live(self, now: float) -> bool:
        return (self.count is None or self.count > 0) and (self.until is None or now < self.until)


@dataclass
class State:
    """Everything the endpoint saw: accepted messages, rejections by code, rules, unregistered tokens."""

    accepted: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    unregistered: set[str] = field(default_factory=set)
    rules: list[Rule] = field(default_factory=list)
    tokens_issued: int = 0
    connection_faults: int = 0
    connections: dict[str, int] = field(default_factory=dict)  # by protocol: "h2", "http/1.1"

    def counts(self) -> dict[str, Any]:
        """Requests, accepted messages, rejections by code, tokens issued, connections and their faults so far."""
        return {
            "requests": self.requests,
            "accepted": len(self.accepted),
            "rejected": dict(self.rejected),
            "tokens_issued": self.tokens_issued,
            "connections": dict(self.connections),
            "connection_faults": self.connection_faults,
        }


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer; `drop` (RESET/GOAWAY) tells the protocol to fail the connection instead of answering."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = JSON
    drop: str | None = None


def json_reply(status: int, body: Any, headers: tuple[tuple[str, str], ...] = JSON) -> Reply:
    return Reply(status, json.dumps(body).encode(), headers)


class FcmCore:
    """The endpoint's behaviour; `handle()` returns a Reply, or an awaitable one when a rule delays it."""

    def __init__(self) -> None:
        self.state = State()
        # Message ids: unique per process without a uuid4 per message (the hot path).
        self._ids = itertools.count(1)
        self._id_prefix = f"{os.getpid():x}{uuid.uuid4().hex[:6]}"

    # -- control ---------------------------------------------------------------------------------

    def fail(self, error: str | None = None, **kwargs: Any) -> Rule:
        """Inject a rule (FCM error code, delay_ms, connection fault) for `count` requests or `seconds`."""
        if error is not None and error not in FCM_ERRORS:
            raise ValueError(f"unknown FCM error {error!r}; one of {sorted(FCM_ERRORS)}")
        if kwargs.get("connection") not in (None, *CONNECTION_FAULTS):
            raise ValueError(f"unknown connection fault {kwargs['connection']!r}; one of {list(CONNECTION_FAULTS)}")
        seconds = kwargs.pop("seconds", None)
        rule = Rule(error=error, until=time.monotonic() + seconds if seconds else None, **kwargs)
        self.state.rules.append(rule)
        return rule

    def reset(self) -> None:
        self.state = State()

    def stats(self) -> dict[str, Any]:
        return self.state.counts()

    def _control(self, method: str, route: str, body: bytes) -> Reply:
        if method == "GET" and route == "messages":
            return json_reply(200, {"messages": self.state.accepted})
        if method == "GET" and route == "stats":
            return json_reply(200, self.stats())
        if method != "POST":
            return json_reply(404, {"error": f"no route for {method} /control/{route}"})
        try:
            args = json.loads(body or b"{}")
            if route == "fail":
                self.fail(**args)
                return json_reply(200, {"rules": len(self.state.rules)})
            if route == "unregister":
                self.state.unregistered.update(args.get("tokens", []))
                return json_reply(200, {"unregistered": len(self.state.unregistered)})
        except (TypeError, ValueError, AttributeError) as exc:
            return json_reply(400, {"error": str(exc)})
        if route == "reset":
            self.reset()
            return json_reply(200, {"ok": True})
        return json_reply(404, {"error": f"no route for {method} /control/{route}"})

    # -- FCM ---------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply | Awaitable[Reply]:
        """Answer one request; `headers` has lower-case names."""
        if method == "POST" and path.startswith(SEND_PREFIX) and path.endswith(SEND_SUFFIX):
            return self._send(path[len(SEND_PREFIX) : -len(SEND_SUFFIX)], headers, body)
        if method == "POST" and path == TOKEN_PATH:
            return self._token(body)
        if method == "GET" and path == "/health":
            return json_reply(200, {"ok": True})
        if path.startswith("/control/"):
            return self._control(method, path[len("/control/") :], body)
        return json_reply(404, {"error": f"no route for {method} {path}"})

    def _token(self, body: bytes) -> Reply:
        form = parse_qs(body.decode("utf-8", "replace"))
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or not form.get("assertion"):
            return json_reply(400, {"error": "invalid_grant", "error_description": "expected a JWT bearer assertion"})
        self.state.tokens_issued += 1
        return json_reply(
            200, {"access_token": f"local-{uuid.uuid4().hex}", "expires_in": 3600, "token_type": "Bearer"}
        )

    def _reject(self, code: str) -> None:
        self.state.rejected[code] = self.state.rejected.get(code, 0) + 1

    def _fcm_error(self, code: str, message: str, retry_after_s: float | None = None) -> Reply:
        self._reject(code)
        http_status, status = FCM_ERRORS[code]
        headers = JSON
        if retry_after_s is not None:
            value = str(int(retry_after_s)) if retry_after_s == int(retry_after_s) else str(retry_after_s)
            headers = (*JSON, ("retry-after", value))
        return json_reply(http_status, error_body(http_status, status, message, code), headers)

    def _matching_rule(self, token: str | None) -> Rule | None:
        now = time.monotonic()
        self.state.rules = [r for r in self.state.rules if r.live(now)]
        for rule in self.state.rules:
            if rule.token is None or rule.token == token:
                if rule.count is not None:
                    rule.count -= 1
                return rule
        return None

    def _send(self, project: str, headers: Mapping[str, str], raw: bytes) -> Reply | Awaitable[Reply]:
        self.state.requests += 1
        if not headers.get("authorization", "").startswith("Bearer "):
            self._reject("UNAUTHENTICATED")
            return json_reply(401, error_body(401, "UNAUTHENTICATED", "Request is missing required authentication."))
        try:
            message, validate_only = validate_request(json.loads(raw), raw_size=len(raw))
        except (InvalidMessage, ValueError) as exc:
            return self._fcm_error("INVALID_ARGUMENT", str(exc))
        token = message.get("token")
        rule = self._matching_rule(token) if self.state.rules else None
        if rule is not None and rule.connection:
            self.state.connection_faults += 1
            return Reply(0, drop=rule.connection)
        if rule is not None and rule.delay_ms:
            return self._delayed(rule, project, message, validate_only)
        return self._answer(rule, project, message, validate_only)

    async def _delayed(self, rule: Rule, project: str, message: dict[str, Any], validate_only: bool) -> Reply:
        # Cancelled when the connection goes away first: a request never answered is never accepted.
        await asyncio.sleep(rule.delay_ms / 1000)
        return self._answer(rule, project, message, validate_only)

    def _answer(self, rule: Rule | None, project: str, message: dict[str, Any], validate_only: bool) -> Reply:
        token = message.get("token")
        if rule is not None and rule.error:
            return self._fcm_error(rule.error, f"injected {rule.error}", rule.retry_after_s)
        if token is not None and token.startswith(INVALID_TOKEN_PREFIX):
            return self._fcm_error("INVALID_ARGUMENT", "The registration token is not a valid FCM registration token")
        if token in self.state.unregistered:
            return self._fcm_error("UNREGISTERED", "Requested entity was not found.")
        name = f"projects/{project}/messages/{self._id_prefix}{next(self._ids):x}"
        if not validate_only:
            self.state.accepted.append({"name": name, "message": message, "at": time.time()})
        # The one response FCM gives on success, written without a JSON encoder round trip.
        return Reply(200, b'{"name":"' + name.encode() + b'"}')
