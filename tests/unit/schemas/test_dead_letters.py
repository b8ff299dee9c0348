"""One dead-letter builder: reason codes from the contract's errors, text bounded, bytes kept whole."""

from __future__ import annotations

import pytest

from schemas.dead_letters import MAX_ERROR_CHARS, PROCESSING_ERROR, dead_letter, reason_of
from schemas.errors import AbsurdTimestampError, BadFramingError, MissingUserIdError, SchemaError

WHERE = {"topic": "t", "partition": 3, "offset": 42, "key": b"k", "at_ms": 7}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (BadFramingError("no magic byte"), "bad_framing"),
        (MissingUserIdError("user_id is empty"), "missing_user_id"),
        (AbsurdTimestampError("year 1970"), "absurd_timestamp"),
        (SchemaError("generic"), "schema_error"),
        (KeyError("state"), PROCESSING_ERROR),
        (ZeroDivisionError("division by zero"), PROCESSING_ERROR),
    ],
)
def test_the_reason_is_the_errors_own_code(error: Exception, reason: str) -> None:
    assert reason_of(error) == reason
    letter = dead_letter(**WHERE, value=b"\x00raw", error=error)
    assert letter.error_kind == reason
    assert (letter.source_topic, letter.partition, letter.offset, letter.key, letter.value) == (
        "t",
        3,
        42,
        b"k",
        b"\x00raw",
    )


def test_a_processing_error_names_its_type_and_the_text_is_bounded() -> None:
    letter = dead_letter(**WHERE, value=None, error=ValueError("x" * 5000))
    assert letter.error.startswith("ValueError: x") and len(letter.error) == MAX_ERROR_CHARS
    assert letter.value == b"" and letter.at_ms == 7


def test_a_text_reason_needs_its_code() -> None:
    assert (
        dead_letter(**WHERE, value=b"", error="record has no value", reason="empty_value").error_kind == "empty_value"
    )
    assert dead_letter(**WHERE, value=b"", error="something odd").error_kind == PROCESSING_ERROR
