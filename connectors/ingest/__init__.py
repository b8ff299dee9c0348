"""Ingestion: the producer SDK, the HTTP collector, file replay and topic administration."""
