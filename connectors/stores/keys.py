"""Redis key layout and TTLs, in one place."""

from __future__ import annotations

import hashlib

# One hash per user, field = raw token, value = "platform|app_id|updated_at_ms": a user has several
# devices and a job fans out to all of them with one HGETALL.
TOKENS_KEY = "{prefix}tokens:{user_id}"
# One string per (job, device): "claimed:<owner>" before the send, "sent:<message id>" after it.
SEND_KEY = "{prefix}send:{job_id}:{token_hash}"
# One GCRA theoretical-arrival-time per provider, shared by every worker.
RATE_KEY = "{prefix}rate:{provider}"
# A claim/sent marker outlives the job it guards: after not_after_ms a redelivered job expires
# before it looks at the marker, so an expired marker can never cause a second send.
SEND_MARKER_MARGIN_MS = 3_600_000
# Floor for the marker TTL, so a job already at its deadline still gets a usable claim.
SEND_MARKER_MIN_MS = 60_000


def token_hash(token: str) -> str:
    """Sha256 prefix of a token: what results and retries carry instead of the raw token."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]
