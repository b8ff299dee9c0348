"""FCM message building and error mapping, checked against firebase-admin's own encoder and errors."""

from __future__ import annotations

import json

import httpx
import pytest
from firebase_admin import exceptions, messaging

from connectors.delivery.providers.fcm import build_message, encode_fcm_message, error_code
from connectors.fcm_local.validation import error_body, validate_request
from schemas.records import NotificationJob


def make_job(**overrides) -> NotificationJob:
    values = dict(
        job_id="j1", firing_id="f1", user_id="u1", trigger_id="cart", variant="a", title="T", body="B",
        image_url="https://img/x.png", deep_link="https://shop/cart", data={"item": "42"}, collapse_key="cart",
        priority="high", ttl_seconds=600, created_at_ms=1, not_after_ms=2,
    )  # fmt: skip
    return NotificationJob(**(values | overrides))


def encoded(job: NotificationJob, token: str = "tok") -> dict:
    return messaging._MessagingService.encode_message(build_message(job, token, "android"))


def test_message_carries_platform_options_and_passes_fcm_validation() -> None:
    message = encoded(make_job())
    assert message["token"] == "tok"
    assert message["data"] == {
        "item": "42",
        "nudge_job_id": "j1",
        "nudge_trigger_id": "cart",
        "deep_link": "https://shop/cart",
    }
    assert message["android"] == {
        "collapse_key": "cart",
        "priority": "high",
        "ttl": "600s",
        "notification": {"image": "https://img/x.png"},
    }
    assert message["apns"]["headers"] == {"apns-priority": "10", "apns-collapse-id": "cart"}
    assert message["apns"]["fcm_options"] == {"image": "https://img/x.png"}
    assert message["webpush"]["fcm_options"] == {"link": "https://shop/cart"}
    assert message["webpush"]["headers"]["TTL"] == "600"
    validate_request({"message": message})


def test_normal_priority_and_a_non_https_link() -> None:
    message = encoded(make_job(priority="normal", deep_link="shop://cart", image_url=None, collapse_key=None))
    assert message["android"]["priority"] == "normal"
    assert message["apns"]["headers"] == {"apns-priority": "5"}
    assert "fcm_options" not in message.get("webpush", {})  # FCM only takes HTTPS links for web push
    assert message["data"]["deep_link"] == "shop://cart"  # the app still gets it
    validate_request({"message": message})


def firebase_error(cls, status: int, body: dict, headers: dict | None = None):
    request = httpx.Request("POST", "http://fcm/send")
    response = httpx.Response(status, content=json.dumps(body).encode(), headers=headers, request=request)
    return cls(body["error"]["message"], http_response=response)


def test_error_codes_come_from_the_fcm_error_detail() -> None:
    exc = firebase_error(
        messaging.QuotaExceededError, 429, error_body(429, "RESOURCE_EXHAUSTED", "slow down", "QUOTA_EXCEEDED"),
        {"Retry-After": "7"},
    )  # fmt: skip
    assert error_code(exc) == ("QUOTA_EXCEEDED", 7.0)
    gone = firebase_error(messaging.UnregisteredError, 404, error_body(404, "NOT_FOUND", "gone", "UNREGISTERED"))
    assert error_code(gone) == ("UNREGISTERED", None)


def test_a_bad_token_is_told_apart_from_a_bad_message() -> None:
    body = error_body(
        400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", "INVALID_ARGUMENT"
    )
    assert error_code(firebase_error(exceptions.InvalidArgumentError, 400, body))[0] == "INVALID_TOKEN"
    body = error_body(400, "INVALID_ARGUMENT", "Invalid value at 'message.data'", "INVALID_ARGUMENT")
    assert error_code(firebase_error(exceptions.InvalidArgumentError, 400, body))[0] == "INVALID_ARGUMENT"


def test_without_a_detail_the_platform_code_is_used() -> None:
    exc = firebase_error(
        exceptions.UnavailableError, 503, {"error": {"code": 503, "message": "down", "status": "UNAVAILABLE"}}
    )
    assert error_code(exc) == ("UNAVAILABLE", None)


def test_lean_encoding_equals_firebase_admins_whole_message_encoding() -> None:
    jobs = [
        make_job(),
        make_job(priority="normal", deep_link="shop://cart", image_url=None, collapse_key=None),
        make_job(ttl_seconds=0, collapse_key="x" * 80, data={}),
        make_job(image_url="https://img/other.png", title="Ünïcode", body="€ 12,00"),
    ]
    for job in jobs:
        for token in ("tok-a", "tok-b"):  # the cached platform sections never carry the token
            assert encode_fcm_message(job, token) == encoded(job, token)


def test_lean_encoding_refuses_what_firebase_admin_refuses() -> None:
    with pytest.raises(ValueError, match="token"):
        encoded(make_job(), "")
    with pytest.raises(ValueError, match="token"):
        encode_fcm_message(make_job(), "")
