"""Errors of the Redis stores."""


class StoreError(Exception):
    """Root of every store error."""


class RateLimitConfigError(StoreError):
    """A rate-limit request that can never be granted (more cells than the burst)."""
