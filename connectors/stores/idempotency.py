"""At-most-once sends per (job, device): a claim before the send, a sent marker after it.

Why this order (crash at each point):
- before the claim: nothing happened; the redelivered job claims and sends.
- after the claim, before/while sending: the claim stays until the job's not_after_ms (+ margin),
  so the redelivered job sees an unconfirmed claim and does not send. FCM has no idempotency key,
  so a send that was in flight when the worker died may or may not have reached the phone; we
  choose at-most-once: such a device is reported `deduplicated` (error_code CLAIM_UNCONFIRMED)
  rather than risk a double push. The window is one HTTP round trip.
- after the send, before the sent marker or the offset commit: same as above; never sent twice.
- after the sent marker: the redelivered job reports `deduplicated` with the message id.
A definite failure answer from the provider releases the claim, so a retry can claim again.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from connectors.stores.keys import SEND_KEY, SEND_MARKER_MARGIN_MS, SEND_MARKER_MIN_MS

# Claim a whole chunk in one round trip: SET NX PX per key, returning the marker found when lost.
# KEYS = markers; ARGV[1] = our claim value; ARGV[2..] = TTL (ms) per key. Returns false (won) or the value.
_CLAIM = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[i + 1]) then out[i] = false
  else out[i] = redis.call('GET', key) or false end
end
return out
"""
# Write the sent markers of a chunk in one round trip. ARGV = value, ttl pairs in KEYS order.
_MARK = """
for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[2 * i - 1], 'PX', ARGV[2 * i]) end
return #KEYS
"""
# Delete each claim only if it is still ours (a marker written by someone else must survive).
_RELEASE = """
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then n = n + redis.call('DEL', key) end
end
return n
"""


@dataclass(frozen=True, slots=True)
class Claim:
    """The result of a claim: won, or the marker that was already there."""

    won: bool
    existing: str | None = None

    @property
    def sent_message_id(self) -> str | None:
        if self.existing and self.existing.startswith("sent:"):
            return self.existing[5:]
        return None


class IdempotencyStore:
    """SET NX claims and sent markers keyed by job id and token hash."""

    def __init__(self, redis: Redis, owner: str, prefix: str = "nudge:") -> None:
        self._redis = redis
        self._owner = f"claimed:{owner}"
        self._prefix = prefix
        self._release = redis.register_script(_RELEASE)
        self._claim = redis.register_script(_CLAIM)
        self._mark = redis.register_script(_MARK)

    def _key(self, job_id: str, token_hash: str) -> str:
        return SEND_KEY.format(prefix=self._prefix, job_id=job_id, token_hash=token_hash)

    @staticmethod
    def ttl_ms(not_after_ms: int, now_ms: int) -> int:
        return max(not_after_ms - now_ms, SEND_MARKER_MIN_MS) + SEND_MARKER_MARGIN_MS

    async def claim(self, pairs: list[tuple[str, str]], ttls_ms: list[int]) -> list[Claim]:
        """Claim each (job_id, token_hash); a lost claim carries the marker found."""
        if not pairs:
            return []
        keys = [self._key(job_id, th) for job_id, th in pairs]
        rows = await self._claim(keys=keys, args=[self._owner, *ttls_ms])
        claims = []
        for value in rows:
            text = value.decode() if isinstance(value, bytes) else value
            claims.append(Claim(False, text) if text else Claim(True))
        return claims

    async def mark_sent(self, items: list[tuple[str, str, str, int]]) -> None:
        """Record (job_id, token_hash, message_id, ttl_ms) as sent."""
        if not items:
            return
        keys = [self._key(job_id, th) for job_id, th, _, _ in items]
        args: list[str | int] = []
        for _, _, message_id, ttl in items:
            args += [f"sent:{message_id}", ttl]
        await self._mark(keys=keys, args=args)

    async def release(self, pairs: list[tuple[str, str]]) -> None:
        """Drop our claims after a definite failure so a later attempt may send (one round trip)."""
        if pairs:
            await self._release(keys=[self._key(job_id, th) for job_id, th in pairs], args=[self._owner])
