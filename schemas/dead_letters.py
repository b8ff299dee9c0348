"""The one builder of DeadLetter records and the reason codes (`error_kind`) every consumer uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.errors import OversizedError, SchemaError
from schemas.records import DeadLetter

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter

# Counted by every process that writes dead letters, labelled by input topic and reason.
DEAD_LETTERS_METRIC = "nudge_dead_letters_total"
EMPTY_VALUE = "empty_value"  # a record without a value (a tombstone on a non-compacted topic)
OVERSIZED = OversizedError.kind
PROCESSING_ERROR = "processing_error"  # a valid record that the code processing it failed on
MAX_ERROR_CHARS = 1000  # the reason text is for a person; the original bytes are kept whole


def dead_letter_counter(registry: CollectorRegistry | None = None) -> Counter:
    """The dead-letter counter, labelled by input topic and reason (error_kind): one alert covers every consumer."""
    from prometheus_client import REGISTRY, Counter

    return Counter(
        DEAD_LETTERS_METRIC.removesuffix("_total"),
        "Input records sent to a dead-letter topic",
        ["topic", "reason"],
        registry=registry if registry is not None else REGISTRY,
    )


def reason_of(exc: BaseException) -> str:
    """The reason code of an error: a contract error's own kind, anything else `processing_error`."""
    return exc.kind if isinstance(exc, SchemaError) else PROCESSING_ERROR


def dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    at_ms: int,
    error: str | BaseException,
    reason: str | None = None,
) -> DeadLetter:
    """A dead letter for one input record: its original key and bytes, where it was read, and why.

    `error` is the reason text or the exception; `reason` defaults to the exception's code (`reason_of`)."""
    if isinstance(error, BaseException):
        kind = reason or reason_of(error)
        text = str(error) if isinstance(error, SchemaError) else f"{type(error).__name__}: {error}"
    else:
        kind = reason or PROCESSING_ERROR
        text = error
    return DeadLetter(
        source_topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        value=value or b"",
        error=text[:MAX_ERROR_CHARS],
        error_kind=kind,
        at_ms=at_ms,
    )
