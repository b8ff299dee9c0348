"""The worker's redis.asyncio client (hiredis packing) on the real Redis; test keys removed afterwards."""

from __future__ import annotations

import pytest

from connectors.stores.redis_client import redis_client


@pytest.fixture
async def redis(redis_url, redis_prefix):
    client = redis_client(redis_url)
    yield client
    keys = [k async for k in client.scan_iter(f"{redis_prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
