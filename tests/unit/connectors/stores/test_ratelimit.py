"""GCRA in Redis: bursts, steady rate, and requests that can never fit."""

from __future__ import annotations

import time

import pytest

from connectors.stores.errors import RateLimitConfigError
from connectors.stores.ratelimit import RateLimiter


async def test_an_idle_limiter_grants_a_full_burst_then_makes_callers_wait(redis, redis_prefix) -> None:
    limiter = RateLimiter(redis, "fcm", rate_per_s=100, burst=10, prefix=redis_prefix)
    assert await limiter.acquire(10) == 0
    wait = await limiter.acquire(5)
    assert 0.04 < wait <= 0.06  # 5 more cells need 5 intervals of 10 ms


async def test_granted_cells_never_exceed_burst_plus_rate(redis, redis_prefix) -> None:
    limiter = RateLimiter(redis, "fcm", rate_per_s=200, burst=20, prefix=redis_prefix)
    granted, started = 0, time.monotonic()
    while time.monotonic() - started < 0.5:
        if await limiter.acquire(4) == 0:
            granted += 4
    elapsed = time.monotonic() - started
    assert granted <= 20 + 200 * elapsed + 4
    assert granted >= 200 * 0.5 * 0.7  # and it does not starve callers either


async def test_more_cells_than_the_burst_is_a_config_error(redis, redis_prefix) -> None:
    limiter = RateLimiter(redis, "fcm", rate_per_s=10, burst=5, prefix=redis_prefix)
    with pytest.raises(RateLimitConfigError):
        await limiter.acquire(6)


async def test_limiters_of_different_providers_are_independent(redis, redis_prefix) -> None:
    fcm = RateLimiter(redis, "fcm", rate_per_s=1, burst=1, prefix=redis_prefix)
    webhook = RateLimiter(redis, "webhook", rate_per_s=1, burst=1, prefix=redis_prefix)
    assert await fcm.acquire(1) == 0
    assert await fcm.acquire(1) > 0.5
    assert await webhook.acquire(1) == 0
