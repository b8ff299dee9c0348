"""Nudge edges: ingestion, delivery providers and Redis stores."""
