"""Webhook signatures: HMAC-SHA256 over the exact body."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from connectors.delivery.errors import ProviderConfigError
from connectors.delivery.providers.webhook import WebhookProvider, sign


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"a":1}'
    assert sign(b"k", body) == "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert sign(b"k", body) != sign(b"k", body + b" ")


def test_a_webhook_needs_url_and_secret() -> None:
    with pytest.raises(ProviderConfigError):
        WebhookProvider("https://hook", "")
