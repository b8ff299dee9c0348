"""Errors of the ingestion connectors."""

from __future__ import annotations


class IngestError(Exception):
    pass


class PublisherNotStartedError(IngestError):
    pass


class InvalidRecordError(IngestError):
    """The record broke the contract and was not sent; `kind` says which rule."""

    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


class PublishError(IngestError):
    """The broker did not accept some records; `failures` lists (topic, key, error) for each."""

    def __init__(self, message: str, failures: list[tuple[str, str | None, str]]) -> None:
        super().__init__(message)
        self.failures = failures


class ReplayError(IngestError):
    pass


class TopicSpecError(IngestError):
    pass
