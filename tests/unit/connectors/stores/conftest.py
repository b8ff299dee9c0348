"""A redis.asyncio client on the real Redis whose test keys are removed afterwards."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis


@pytest.fixture
async def redis(redis_url, redis_prefix):
    client = Redis.from_url(redis_url)
    yield client
    keys = [k async for k in client.scan_iter(f"{redis_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
