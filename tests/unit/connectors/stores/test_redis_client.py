"""The hiredis-packing client sends what redis-py's own packer sends, and works against the real Redis."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection, SSLConnection
from redis.exceptions import DataError

from connectors.stores.redis_client import HiredisConnection, HiredisSSLConnection, redis_client


@pytest.mark.parametrize(
    "args",
    [
        ("SET", "k", "v", "PX", 60_000),
        ("CONFIG GET", "maxmemory"),  # a multi-word command name is split, as redis-py does
        (b"CLIENT LIST",),
        ("HSET", "key", "tök€n", b"\x00\xffbinary", "f", 1.5),
        ("EVALSHA", "a" * 40, 2, "k1", "k2", "claimed:w", -1, 0),
    ],
)
def test_packs_exactly_as_redis_py(args) -> None:
    assert b"".join(HiredisConnection().pack_command(*args)) == b"".join(Connection().pack_command(*args))


def test_an_unpackable_argument_is_a_clear_data_error() -> None:
    with pytest.raises(DataError):
        HiredisConnection().pack_command("SET", "k", object())


def test_tls_urls_keep_tls() -> None:
    assert redis_client("rediss://127.0.0.1:6390/0").connection_pool.connection_class is HiredisSSLConnection
    assert issubclass(HiredisSSLConnection, SSLConnection)
    assert redis_client("redis://127.0.0.1:6390/0").connection_pool.connection_class is HiredisConnection


async def test_commands_pipelines_and_scripts_round_trip(redis, redis_prefix) -> None:
    key = f"{redis_prefix}h"
    assert await redis.hset(key, mapping={"tök€n": "android||1", "t2": "ios|app|2"}) == 2
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hget(key, "tök€n").hlen(key).set(f"{redis_prefix}n", 7, px=60_000)
        assert await pipe.execute() == [b"android||1", 2, True]
    script = redis.register_script("return {KEYS[1], ARGV[1], #KEYS}")
    assert await script(keys=[key, f"{redis_prefix}x"], args=[12]) == [key.encode(), b"12", 2]
