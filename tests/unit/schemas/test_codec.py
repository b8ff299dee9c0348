"""Round trips for every record and clear errors for bad input."""

from __future__ import annotations

import contextlib
from io import BytesIO

import pytest
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import codec
from schemas.codec import default_codec
from schemas.errors import BadFramingError, DecodeError, EncodeError, UnknownFingerprintError, WrongTypeError
from schemas.records import RECORD_TYPES, BehaviorEvent, DeviceToken, EventContext
from tests.unit.schemas.strategies import records

EVENT = BehaviorEvent(
    event_id="e1",
    user_id="u1",
    type="cart",
    event_time_ms=1_511_658_000_000,
    price=9.5,
    properties={"n": 1, "flag": True, "ratio": 0.5, "s": "x", "none": None},
    context=EventContext(platform="ios", time_zone="Europe/Paris"),
)


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_record_round_trips(cls: type, data: st.DataObject) -> None:
    record = data.draw(records(cls))
    encoded = codec.encode(record)
    assert encoded[:2] == b"\xc3\x01"
    assert encoded[2:10] == codec.default_codec().fingerprint_of(cls)
    assert codec.decode(encoded, cls) == record


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_every_record_round_trips_through_json(cls: type, data: st.DataObject) -> None:
    record = data.draw(records(cls))
    assert codec.from_json(cls, codec.to_json(record)) == record


def test_property_types_survive() -> None:
    decoded = codec.decode(codec.encode(EVENT))
    assert decoded.properties == EVENT.properties
    assert type(decoded.properties["flag"]) is bool
    assert type(decoded.properties["n"]) is int


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"", BadFramingError, "got 0 bytes"),
        (b'{"user_id": "u1"}', BadFramingError, "starting 7b22"),
        (b"\xc3\x01\x00", BadFramingError, "got 3 bytes starting c301"),
        (b"\xc3\x01" + b"\x00" * 8 + b"body", UnknownFingerprintError, "0000000000000000"),
    ],
)
def test_bad_framing_is_a_clear_decode_error(data: bytes, error: type, message: str) -> None:
    with pytest.raises(error, match=message) as info:
        codec.decode(data)
    assert isinstance(info.value, DecodeError)


def test_truncated_body_is_a_decode_error() -> None:
    encoded = codec.encode(EVENT)
    with pytest.raises(DecodeError, match="bad BehaviorEvent body"):
        codec.decode(encoded[:-5])


def test_trailing_bytes_are_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="trailing bytes"):
        codec.decode(codec.encode(EVENT) + b"\x00")


def test_wrong_type_is_reported() -> None:
    with pytest.raises(WrongTypeError, match="expected DeviceToken, got BehaviorEvent"):
        codec.decode(codec.encode(EVENT), DeviceToken)


def test_non_record_cannot_be_encoded() -> None:
    with pytest.raises(EncodeError, match="not a contract record"):
        codec.encode({"user_id": "u1"})


def test_wrong_field_type_cannot_be_encoded() -> None:
    bad = BehaviorEvent(event_id="e", user_id=7, type="view", event_time_ms=1)  # type: ignore[arg-type]
    with pytest.raises(EncodeError, match="cannot encode BehaviorEvent"):
        codec.encode(bad)


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=200))
def test_garbage_never_escapes_as_another_exception(garbage: bytes) -> None:
    for data in (garbage, b"\xc3\x01" + codec.default_codec().fingerprint_of(BehaviorEvent) + garbage):
        with contextlib.suppress(DecodeError):
            codec.decode(data)


def test_json_names_the_bad_field() -> None:
    with pytest.raises(codec.ValidationError, match="user_id is <5>"):
        codec.from_json(BehaviorEvent, {"event_id": "e", "user_id": 5, "type": "view", "event_time_ms": 1})
    with pytest.raises(codec.ValidationError, match="missing required fields \\['event_time_ms'\\]"):
        codec.from_json(BehaviorEvent, {"event_id": "e", "user_id": "u", "type": "view"})
    with pytest.raises(codec.ValidationError, match="unknown fields \\['colour'\\]"):
        codec.from_json(BehaviorEvent, {"event_id": "e", "user_id": "u", "type": "v", "event_time_ms": 1, "colour": 1})


def _fastavro_decode(data: bytes, cls: type) -> object:
    codec_ = default_codec()
    buf = BytesIO(data)
    buf.seek(10)
    value = schemaless_reader(buf, codec_._parsed[cls], None)
    if buf.tell() != len(data):
        raise ValueError("trailing bytes")
    return codec_.from_dict(cls, value)


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_generated_reader_agrees_with_fastavro(cls: type, data: st.DataObject) -> None:
    record = data.draw(records(cls))
    encoded = codec.encode(record)
    assert codec.decode(encoded) == _fastavro_decode(encoded, cls) == record


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=150, deadline=None)
@given(body=st.binary(max_size=120))
def test_generated_reader_agrees_with_fastavro_on_garbage(cls: type, body: bytes) -> None:
    data = b"\xc3\x01" + default_codec().fingerprint_of(cls) + body
    try:
        expected = _fastavro_decode(data, cls)
    except Exception:
        expected = None
    try:
        got = codec.decode(data)
    except DecodeError:
        got = None
    assert got == expected


def test_every_current_schema_has_a_generated_reader() -> None:
    assert all(default_codec()._writers[default_codec().fingerprint_of(cls)].fast for cls in RECORD_TYPES)


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_generated_writer_writes_what_fastavro_writes(cls: type, data: st.DataObject) -> None:
    record = data.draw(records(cls))
    buf = BytesIO()
    schemaless_writer(buf, default_codec()._parsed[cls], default_codec().to_dict(record))
    assert codec.encode(record)[10:] == buf.getvalue()


def test_ints_are_written_to_double_fields() -> None:
    event = BehaviorEvent(event_id="e", user_id="u", type="view", event_time_ms=1, price=10)
    assert codec.decode(codec.encode(event)).price == 10.0
