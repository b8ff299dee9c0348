"""FCM HTTP v1 message validation: the checks FCM makes before it accepts a message."""

from __future__ import annotations

import json
from typing import Any

# FCM rejects a message whose payload (everything but the target) exceeds 4 KB.
MAX_PAYLOAD_BYTES = 4096

MESSAGE_FIELDS = {
    "name",
    "data",
    "notification",
    "android",
    "webpush",
    "apns",
    "fcm_options",
    "token",
    "fid",
    "topic",
    "condition",
}
TARGET_FIELDS = ("token", "fid", "topic", "condition")
NOTIFICATION_FIELDS = {"title", "body", "image"}
ANDROID_FIELDS = {
    "collapse_key",
    "priority",
    "ttl",
    "restricted_package_name",
    "data",
    "notification",
    "fcm_options",
    "direct_boot_ok",
    "bandwidth_constrained_ok",
    "restricted_satellite_ok",
}
APNS_FIELDS = {"headers", "payload", "fcm_options", "live_activity_token"}
WEBPUSH_FIELDS = {"headers", "data", "notification", "fcm_options"}
ANDROID_PRIORITIES = {"NORMAL", "HIGH", "normal", "high"}


class InvalidMessage(Exception):
    """The message breaks an FCM rule; `field` names where."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"Invalid value at '{field}': {reason}")
        self.field = field
        self.reason = reason


def _unknown(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(obj) - allowed)
    if extra:
        raise InvalidMessage(f"{where}.{extra[0]}", f'Unknown name "{extra[0]}": Cannot find field.')


def _string_map(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise InvalidMessage(where, "must be a map of strings")
    for key, item in value.items():
        if not isinstance(item, str):
            raise InvalidMessage(f"{where}[{key}]", "map values must be strings")


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidMessage(where, "must be an object")
    return value


def validate_request(body: Any, raw_size: int | None = None) -> tuple[dict[str, Any], bool]:
    """Check a `messages:send` body and return (message, validate_only).

    `raw_size` (bytes of the request as received) lets a small request skip re-encoding the payload:
    the compact UTF-8 payload is never longer than the request it was parsed from."""
    if not isinstance(body, dict):
        raise InvalidMessage("", "request body must be a JSON object")
    _unknown(body, {"message", "validate_only"}, "request")
    message = _object(body.get("message"), "message")
    _unknown(message, MESSAGE_FIELDS, "message")
    targets = [name for name in TARGET_FIELDS if message.get(name)]
    if len(targets) != 1:
        raise InvalidMessage("message", "exactly one of token, fid, topic or condition must be set")
    if "data" in message:
        _string_map(message["data"], "message.data")
    if "notification" in message:
        _unknown(_object(message["notification"], "message.notification"), NOTIFICATION_FIELDS, "message.notification")
    if "android" in message:
        android = _object(message["android"], "message.android")
        _unknown(android, ANDROID_FIELDS, "message.android")
        if "priority" in android and android["priority"] not in ANDROID_PRIORITIES:
            raise InvalidMessage("message.android.priority", "must be NORMAL or HIGH")
        if "ttl" in android and not (isinstance(android["ttl"], str) and android["ttl"].endswith("s")):
            raise InvalidMessage("message.android.ttl", "must be a duration such as '3600s'")
        if "data" in android:
            _string_map(android["data"], "message.android.data")
    if "apns" in message:
        apns = _object(message["apns"], "message.apns")
        _unknown(apns, APNS_FIELDS, "message.apns")
        if "headers" in apns:
            _string_map(apns["headers"], "message.apns.headers")
    if "webpush" in message:
        webpush = _object(message["webpush"], "message.webpush")
        _unknown(webpush, WEBPUSH_FIELDS, "message.webpush")
        for name in ("headers", "data"):
            if name in webpush:
                _string_map(webpush[name], f"message.webpush.{name}")
        link = _object(webpush.get("fcm_options", {}), "message.webpush.fcm_options").get("link")
        if link is not None and not str(link).startswith("https://"):
            raise InvalidMessage("message.webpush.fcm_options.link", "must be an HTTPS URL")
    if raw_size is not None and raw_size <= MAX_PAYLOAD_BYTES:
        return message, bool(body.get("validate_only", False))
    payload = {k: v for k, v in message.items() if k not in TARGET_FIELDS}
    size = len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidMessage("message", f"payload is {size} bytes, more than the {MAX_PAYLOAD_BYTES} allowed")
    return message, bool(body.get("validate_only", False))


def error_body(http_status: int, status: str, message: str, fcm_code: str | None = None) -> dict[str, Any]:
    """Build an error body in Google's format, with the FcmError detail firebase-admin reads."""
    error: dict[str, Any] = {"code": http_status, "message": message, "status": status}
    if fcm_code:
        error["details"] = [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}]
    return {"error": error}


# FCM error code -> (HTTP status, google.rpc status), as FCM answers them.
FCM_ERRORS: dict[str, tuple[int, str]] = {
    "UNREGISTERED": (404, "NOT_FOUND"),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED"),
    "UNAVAILABLE": (503, "UNAVAILABLE"),
    "INTERNAL": (500, "INTERNAL"),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED"),
}
