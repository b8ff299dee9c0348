"""Redis-backed stores shared by every delivery worker: device tokens, idempotency claims, rate limits."""
