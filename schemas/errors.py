"""Errors of the contract package; `kind` is the machine-readable reason used in dead letters."""

from __future__ import annotations


class SchemaError(Exception):
    kind = "schema_error"


class SchemaLoadError(SchemaError):
    kind = "schema_load"


class DecodeError(SchemaError):
    kind = "bad_body"


class BadFramingError(DecodeError):
    kind = "bad_framing"


class UnknownFingerprintError(DecodeError):
    kind = "unknown_fingerprint"


class WrongTypeError(DecodeError):
    kind = "wrong_type"


class EncodeError(SchemaError):
    kind = "encode_error"


class ValidationError(SchemaError):
    kind = "invalid"


class MissingFieldError(ValidationError):
    kind = "missing_field"


class MissingUserIdError(MissingFieldError):
    kind = "missing_user_id"


class AbsurdTimestampError(ValidationError):
    kind = "absurd_timestamp"


class OversizedError(ValidationError):
    kind = "oversized"
