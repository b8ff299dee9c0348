"""Device tokens materialised from `device.tokens` into one Redis hash per user."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from redis.asyncio import Redis

from connectors.stores.keys import TOKENS_KEY, token_hash
from schemas.records import DeviceToken

# Every user's hash of a batch in one command: a pipeline of 500 HGETALLs cost more in redis-py's
# per-command packing and parsing than the round trip it saved (profiled at ~10% of a batch).
_HGETALL_MANY = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HGETALL', key) end
return out
"""


@dataclass(frozen=True, slots=True)
class Device:
    """One live device of a user."""

    token: str
    platform: str
    app_id: str | None = None
    token_hash: str = field(init=False, repr=False, compare=False)  # sha256 once, not at every claim and result

    def __post_init__(self) -> None:
        object.__setattr__(self, "token_hash", token_hash(self.token))


class TokenStore:
    """Upsert/remove tokens and read a user's live devices."""

    def __init__(self, redis: Redis, prefix: str = "nudge:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._hgetall_many = redis.register_script(_HGETALL_MANY)

    def _key(self, user_id: str) -> str:
        return TOKENS_KEY.format(prefix=self._prefix, user_id=user_id)

    async def apply(
        self, user_id: str, token: str, platform: str, app_id: str | None, active: bool, at_ms: int
    ) -> None:
        """Apply one DeviceToken update (active=False removes it)."""
        if active:
            await self._redis.hset(self._key(user_id), token, f"{platform}|{app_id or ''}|{at_ms}")
        else:
            await self._redis.hdel(self._key(user_id), token)

    async def apply_many(self, updates: Iterable[DeviceToken]) -> None:
        """Apply DeviceToken updates in order, in one round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for t in updates:
                if t.active:
                    pipe.hset(self._key(t.user_id), t.token, f"{t.platform}|{t.app_id or ''}|{t.updated_at_ms}")
                else:
                    pipe.hdel(self._key(t.user_id), t.token)
            if len(pipe):
                await pipe.execute()

    async def remove_many(self, pairs: list[tuple[str, str]]) -> None:
        """Remove dead (user_id, token) pairs in one round trip."""
        if not pairs:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id, token in pairs:
                pipe.hdel(self._key(user_id), token)
            await pipe.execute()

    async def devices(self, user_ids: list[str]) -> dict[str, list[Device]]:
        """Live devices of each user, in one round trip (one script call, not one command per user)."""
        if not user_ids:
            return {}
        flat = await self._hgetall_many(keys=[self._key(u) for u in user_ids])
        result: dict[str, list[Device]] = {}
        for user_id, pairs in zip(user_ids, flat, strict=True):
            row = dict(zip(pairs[::2], pairs[1::2], strict=True))
            devices = []
            for raw_token, raw_value in sorted(row.items()):
                platform, app_id, _ = _text(raw_value).split("|", 2)
                devices.append(Device(_text(raw_token), platform, app_id or None))
            result[user_id] = devices
        return result

    async def remove(self, user_id: str, token: str) -> bool:
        """Remove a dead token; True when it was there."""
        return bool(await self._redis.hdel(self._key(user_id), token))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
