"""Ingestion: the producer SDK, the HTTP collector, file replay, topic administration and topic reading."""
