"""Redis with AUTH: the delivery token store and rate limiter work against a password-protected server."""

from __future__ import annotations

import time

import pytest
import redis
from redis.asyncio import Redis

from connectors.stores.ratelimit import RateLimiter
from connectors.stores.tokens import TokenStore
from streams.settings import Settings
from tests.integration.security.conftest import PASSWORD


async def test_token_store_and_rate_limiter_with_the_password_from_settings(private_redis: int, monkeypatch) -> None:
    monkeypatch.setenv("NUDGE_REDIS_URL", f"redis://:{PASSWORD}@127.0.0.1:{private_redis}/0")
    settings = Settings()
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())  # a SecretStr
    client = Redis.from_url(settings.redis_url.get_secret_value())
    try:
        tokens = TokenStore(client, "auth:")
        await tokens.apply("u1", "tok-1", "android", None, True, int(time.time() * 1000))
        assert [d.token for d in (await tokens.devices(["u1"]))["u1"]] == ["tok-1"]
        assert await RateLimiter(client, "fcm", 100.0, 10, "auth:").acquire(5) == 0
    finally:
        await client.aclose()


@pytest.mark.parametrize("url", ["redis://:wrong-password@127.0.0.1:{port}/0", "redis://127.0.0.1:{port}/0"])
async def test_a_wrong_or_missing_password_fails_clearly(private_redis: int, url: str) -> None:
    client = Redis.from_url(url.format(port=private_redis))
    try:
        with pytest.raises((redis.AuthenticationError, redis.ResponseError)) as caught:
            await TokenStore(client, "auth:").devices(["u1"])
        message = str(caught.value).lower()
        assert "auth" in message or "password" in message, message
        assert "wrong-password" not in message  # the error names the problem, not the secret
    finally:
        await client.aclose()
