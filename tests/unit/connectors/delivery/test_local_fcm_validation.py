"""The local endpoint rejects what FCM rejects."""

from __future__ import annotations

import json

import pytest

from connectors.fcm_local.validation import InvalidMessage, validate_request


def ok(**message) -> dict:
    return {"message": {"token": "t", **message}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": {"data": {"a": "b"}}}, "message"),  # no target
        ({"message": {"token": "t", "topic": "news"}}, "message"),  # two targets
        (ok(data={"n": 1}), "message.data[n]"),
        (ok(notification={"title": "x", "colour": "red"}), "message.notification.colour"),
        (ok(android={"priority": "urgent"}), "message.android.priority"),
        (ok(android={"ttl": 60}), "message.android.ttl"),
        (ok(apns={"sound": "x"}), "message.apns.sound"),
        (ok(webpush={"fcm_options": {"link": "http://insecure"}}), "message.webpush.fcm_options.link"),
        (ok(data={"big": "x" * 5000}), "message"),
        (ok(unknown=1), "message.unknown"),
    ],
)
def test_rejections(body: dict, field: str) -> None:
    with pytest.raises(InvalidMessage) as caught:
        validate_request(body)
    assert caught.value.field == field


def test_accepts_a_full_message_and_validate_only() -> None:
    body = ok(
        data={"a": "b"},
        notification={"title": "T", "body": "B", "image": "https://i"},
        android={"priority": "high", "ttl": "60s", "collapse_key": "c"},
        apns={"headers": {"apns-priority": "10"}},
    )
    body["validate_only"] = True
    message, validate_only = validate_request(body)
    assert validate_only and message["token"] == "t"


def test_the_size_shortcut_never_lets_a_big_payload_through() -> None:
    body = ok(data={"big": "é" * 2100})  # 4200 bytes of UTF-8 in the payload
    raw = json.dumps(body).encode()  # \u00e9 escapes: a longer request than the payload
    with pytest.raises(InvalidMessage):
        validate_request(json.loads(raw), raw_size=len(raw))
    small = json.dumps(ok(data={"a": "b"})).encode()
    assert validate_request(json.loads(small), raw_size=len(small))[0]["data"] == {"a": "b"}
