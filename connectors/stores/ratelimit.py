"""A global GCRA rate limit in Redis: one atomic script, shared by every worker."""

from __future__ import annotations

from redis.asyncio import Redis

from connectors.stores.errors import RateLimitConfigError
from connectors.stores.keys import RATE_KEY

# GCRA over the server's clock (TIME), so workers on different hosts agree on "now".
# KEYS[1] = tat key; ARGV = emission interval (us), burst tolerance (us), cells.
# Returns {granted (0/1), wait (us)}.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local cells = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + cells * interval
local allow_at = new_tat - tolerance
if allow_at > now then return {0, math.ceil(allow_at - now)} end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
"""


class RateLimiter:
    """`acquire(n)` returns 0 when n cells are granted now, else the seconds to wait before asking again."""

    def __init__(self, redis: Redis, provider: str, rate_per_s: float, burst: int, prefix: str = "nudge:") -> None:
        if rate_per_s <= 0 or burst < 1:
            raise RateLimitConfigError(f"rate must be > 0 and burst >= 1 (got {rate_per_s}, {burst})")
        self.burst = burst
        self._key = RATE_KEY.format(prefix=prefix, provider=provider)
        self._interval_us = 1_000_000 / rate_per_s
        # n cells fit when new_tat - now <= burst intervals, so an idle limiter grants `burst` at once.
        self._tolerance_us = self._interval_us * burst
        self._script = redis.register_script(_GCRA)

    async def acquire(self, cells: int) -> float:
        if cells > self.burst:
            raise RateLimitConfigError(f"asked for {cells} cells at once, more than the burst of {self.burst}")
        granted, wait_us = await self._script(keys=[self._key], args=[self._interval_us, self._tolerance_us, cells])
        return 0.0 if granted else int(wait_us) / 1_000_000
