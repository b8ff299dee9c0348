"""Raw input bytes -> a valid record or a DeadLetter with the reason; pure (time and limits passed in)."""

from __future__ import annotations

from typing import TypeVar

from schemas.codec import Codec, default_codec
from schemas.dead_letters import DEAD_LETTERS_METRIC, EMPTY_VALUE, OVERSIZED, dead_letter, dead_letter_counter
from schemas.errors import SchemaError
from schemas.records import BehaviorEvent, DeadLetter
from schemas.rules import validate

T = TypeVar("T")

# Large enough for any real event with rich properties; small enough that one bad producer
# cannot make every consumer allocate megabytes per record.
DEFAULT_MAX_VALUE_BYTES = 256 * 1024
__all__ = ["DEAD_LETTERS_METRIC", "DEFAULT_MAX_VALUE_BYTES", "EMPTY_VALUE", "check_record", "dead_letter_counter"]
_CODEC = default_codec()


def check_record(
    value: bytes | None,
    key: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    now_ms: int,
    expected: type[T] = BehaviorEvent,  # type: ignore[assignment]
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    codec: Codec | None = None,
) -> T | DeadLetter:
    """Decode and validate one input record; anything wrong comes back as a DeadLetter saying why."""
    if value and len(value) <= max_value_bytes:
        try:
            record = (codec or _CODEC).decode(value, expected)
            validate(record, now_ms=now_ms)
            return record
        except SchemaError as exc:
            error: str | SchemaError = exc
            reason = None
    elif not value:
        error, reason = "record has no value", EMPTY_VALUE
    else:
        error, reason = f"value of {len(value)} bytes is over the limit of {max_value_bytes}", OVERSIZED
    return dead_letter(topic=topic, partition=partition, offset=offset, key=key, value=value, at_ms=now_ms,
                       error=error, reason=reason)  # fmt: skip
