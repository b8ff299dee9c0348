"""Feedback attribution and per trigger x variant engagement metrics; pure (no Kafka, Faust or Redis)."""
