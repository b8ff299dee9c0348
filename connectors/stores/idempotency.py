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

# Delete the claim only if it is still ours (a marker written by someone else must survive).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
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

    def _key(self, job_id: str, token_hash: str) -> str:
        return SEND_KEY.format(prefix=self._prefix, job_id=job_id, token_hash=token_hash)

    @staticmethod
    def ttl_ms(not_after_ms: int, now_ms: int) -> int:
        return max(not_after_ms - now_ms, SEND_MARKER_MIN_MS) + SEND_MARKER_MARGIN_MS

    async def claim(self, pairs: list[tuple[str, str]], ttls_ms: list[int]) -> list[Claim]:
        """Claim each (job_id, token_hash); a lost claim carries the marker found."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for (job_id, th), ttl in zip(pairs, ttls_ms, strict=True):
                key = self._key(job_id, th)
                pipe.set(key, self._owner, nx=True, px=ttl)
                pipe.get(key)
            rows = await pipe.execute()
        claims = []
        for i in range(len(pairs)):
            won, value = rows[2 * i], rows[2 * i + 1]
            text = value.decode() if isinstance(value, bytes) else value
            claims.append(Claim(True) if won else Claim(False, text))
        return claims

    async def mark_sent(self, items: list[tuple[str, str, str, int]]) -> None:
        """Record (job_id, token_hash, message_id, ttl_ms) as sent."""
        if not items:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id, th, message_id, ttl in items:
                pipe.set(self._key(job_id, th), f"sent:{message_id}", px=ttl)
            await pipe.execute()

    async def release(self, pairs: list[tuple[str, str]]) -> None:
        """Drop our claims after a definite failure so a later attempt may send."""
        for job_id, th in pairs:
            await self._release(keys=[self._key(job_id, th)], args=[self._owner])
