"""Delivery workers: send notification jobs through a provider exactly once, with retries and rate limits."""
