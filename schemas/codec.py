"""Avro single-object encoding of contract records: 0xC3 0x01, CRC-64-AVRO fingerprint, body."""

from __future__ import annotations

import base64
import json
import struct
import typing
from collections.abc import Callable
from dataclasses import MISSING, fields, is_dataclass
from io import BytesIO
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import to_parsing_canonical_form
from fastavro.validation import ValidationError as AvroValidationError
from fastavro.validation import validate as avro_validate

from schemas import records
from schemas.errors import (
    BadFramingError,
    DecodeError,
    EncodeError,
    SchemaLoadError,
    UnknownFingerprintError,
    ValidationError,
    WrongTypeError,
)
from schemas.fastread import Reader, Unsupported, compile_reader
from schemas.fastwrite import Writer, compile_writer
from schemas.rules import validate

__all__ = ["Codec", "decode", "encode", "fingerprint", "from_json", "to_json", "validate"]

T = TypeVar("T")
MAGIC = b"\xc3\x01"
HEADER_LEN = len(MAGIC) + 8
SCHEMA_DIR = Path(__file__).resolve().parent
NAMESPACE = "dev.nudge"

_CRC64_EMPTY = 0xC15D213AA4D7A795


def _crc64_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_CRC64_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_CRC64_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> int:
    """The Rabin CRC-64 the Avro spec names CRC-64-AVRO."""
    fp = _CRC64_EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _CRC64_TABLE[(fp ^ byte) & 0xFF]
    return fp


def fingerprint(schema: dict[str, Any]) -> bytes:
    """The 8-byte little-endian CRC-64-AVRO fingerprint of a self-contained schema."""
    canonical = to_parsing_canonical_form(parse_schema(schema, _force=True))
    return struct.pack("<Q", crc64_avro(canonical.encode()))


def _inline(schema: Any, named: dict[str, Any], defined: set[str]) -> Any:
    """Replace references to other contract records by their definitions (self-contained schema)."""
    if isinstance(schema, str):
        if schema in named and schema not in defined:
            return _inline(named[schema], named, defined)
        return schema
    if isinstance(schema, list):
        return [_inline(s, named, defined) for s in schema]
    if isinstance(schema, dict):
        out = dict(schema)
        if out.get("type") in ("record", "enum", "fixed"):
            defined.add(f"{out.get('namespace', NAMESPACE)}.{out['name']}")
        if "fields" in out:
            out["fields"] = [{**f, "type": _inline(f["type"], named, defined)} for f in out["fields"]]
        for key in ("items", "values"):
            if key in out:
                out[key] = _inline(out[key], named, defined)
        if isinstance(out.get("type"), dict | list):
            out["type"] = _inline(out["type"], named, defined)
        return out
    return schema


def _load_json(path: Path) -> dict[str, Any]:
    try:
        schema = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SchemaLoadError(f"cannot read schema {path}: {exc}") from exc
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise SchemaLoadError(f"{path}: a record schema is expected")
    return schema


def _converters(cls: type) -> tuple[Callable[[Any], dict[str, Any]], Callable[[dict[str, Any]], Any]]:
    """Fast dataclass<->dict functions for one record class (nested records converted too)."""
    names = tuple(f.name for f in fields(cls))
    getter = attrgetter(*names)
    hints = typing.get_type_hints(cls)
    nested: list[tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = []
    for name in names:
        inner = [typing.cast(type, a) for a in typing.get_args(hints[name]) or (hints[name],) if is_dataclass(a)]
        if inner:
            to_d, from_d = _converters(inner[0])
            nested.append((name, to_d, from_d))

    def to_dict(record: Any) -> dict[str, Any]:
        d = dict(zip(names, getter(record), strict=True))
        for name, to_d, _ in nested:
            if d[name] is not None:
                d[name] = to_d(d[name])
        return d

    def from_dict(d: dict[str, Any]) -> Any:
        for name, _, from_d in nested:
            if d.get(name) is not None:
                d[name] = from_d(d[name])
        return cls(**d)

    return to_dict, from_dict


class _Writer(typing.NamedTuple):
    cls: type
    schema: Any  # parsed writer schema
    reader: Any  # parsed current schema when the writer is an older version, else None
    source: str
    fast: Reader | None = None  # generated reader for current schemas (older ones go through fastavro)


class Codec:
    """Every contract record's current schema plus all committed versions, keyed by fingerprint."""

    def __init__(self, schema_dir: Path = SCHEMA_DIR, types: tuple[type, ...] = records.RECORD_TYPES) -> None:
        raw = {cls: _load_json(schema_dir / f"{cls.__name__}.avsc") for cls in types}
        named = {f"{s.get('namespace', NAMESPACE)}.{s['name']}": s for s in raw.values()}
        self.schemas: dict[type, dict[str, Any]] = {cls: _inline(s, named, set()) for cls, s in raw.items()}
        self._parsed: dict[type, Any] = {}
        self._header: dict[type, bytes] = {}
        self._writers: dict[bytes, _Writer] = {}
        self._convert = {cls: _converters(cls) for cls in types}
        self._fast_writers: dict[type, Writer | None] = {}
        for cls, schema in self.schemas.items():
            if [f.name for f in fields(cls)] != [f["name"] for f in schema["fields"]]:
                raise SchemaLoadError(f"{cls.__name__}.avsc fields differ from the dataclass")
            fp = fingerprint(schema)
            self._parsed[cls] = parse_schema(schema)
            self._header[cls] = MAGIC + fp
            self._fast_writers[cls] = _fast_writer(schema, cls)
            self._writers[fp] = _Writer(cls, self._parsed[cls], None, f"{cls.__name__}.avsc", _fast_reader(schema, cls))
        for cls in types:
            for path in sorted((schema_dir / "history" / cls.__name__).glob("v*.avsc")):
                old = _load_json(path)
                fp = fingerprint(old)
                if fp not in self._writers:
                    self._writers[fp] = _Writer(cls, parse_schema(old), self._parsed[cls], str(path))

    def fingerprint_of(self, cls: type) -> bytes:
        """The fingerprint records of `cls` are written with."""
        return self._header[cls][len(MAGIC) :]

    def to_dict(self, record: Any) -> dict[str, Any]:
        """The Avro-shaped dict of a record."""
        try:
            to_d = self._convert[type(record)][0]
        except KeyError:
            raise EncodeError(f"{type(record).__name__} is not a contract record") from None
        return to_d(record)

    def from_dict(self, cls: type[T], data: dict[str, Any]) -> T:
        """A record from an Avro-shaped dict."""
        record: T = self._convert[cls][1](data)
        return record

    def encode(self, record: Any) -> bytes:
        """Avro single-object encoding of `record` with its current schema."""
        cls = type(record)
        try:
            header = self._header[cls]
        except KeyError:
            raise EncodeError(f"{cls.__name__} is not a contract record") from None
        fast = self._fast_writers[cls]
        if fast is not None:
            out = bytearray(header)
            try:
                fast(record, out)
            except (TypeError, ValueError, AttributeError, OverflowError, struct.error) as exc:
                raise EncodeError(f"cannot encode {cls.__name__}: {type(exc).__name__}: {exc}") from exc
            return bytes(out)
        buf = BytesIO()
        buf.write(header)
        try:
            schemaless_writer(buf, self._parsed[cls], self._convert[cls][0](record))
        except (TypeError, ValueError, AttributeError, OverflowError, struct.error) as exc:
            raise EncodeError(f"cannot encode {cls.__name__}: {exc}") from exc
        return buf.getvalue()

    def decode(self, data: bytes, expected: type[T] | None = None) -> T:
        """Decode single-object-encoded bytes; DecodeError says why when it cannot."""
        if len(data) < HEADER_LEN or data[:2] != MAGIC:
            raise BadFramingError(
                f"not Avro single-object encoding: expected {HEADER_LEN}+ bytes starting C3 01, "
                f"got {len(data)} bytes starting {bytes(data[:2]).hex() or 'nothing'}"
            )
        fp = bytes(data[2:HEADER_LEN])
        writer = self._writers.get(fp)
        if writer is None:
            raise UnknownFingerprintError(
                f"unknown schema fingerprint {fp.hex()}: written with a schema not known here"
            )
        if expected is not None and writer.cls is not expected:
            raise WrongTypeError(f"expected {expected.__name__}, got {writer.cls.__name__}")
        if writer.fast is not None:
            try:
                fast_record, end = writer.fast(data, HEADER_LEN)
            except (IndexError, ValueError, struct.error, OverflowError, MemoryError) as exc:
                # IndexError: body ends early; ValueError: bad length, union index or UTF-8
                raise DecodeError(f"bad {writer.cls.__name__} body: {type(exc).__name__}: {exc}") from exc
            if end != len(data):
                raise DecodeError(f"bad {writer.cls.__name__} body: {len(data) - end} trailing bytes after the record")
            return fast_record
        buf = BytesIO(data)
        buf.seek(HEADER_LEN)
        try:
            value = schemaless_reader(buf, writer.schema, writer.reader)
        except Exception as exc:  # fastavro raises many kinds on corrupt input; all mean "bad body"
            raise DecodeError(f"bad {writer.cls.__name__} body: {type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(data):
            raise DecodeError(
                f"bad {writer.cls.__name__} body: {len(data) - buf.tell()} trailing bytes after the record"
            )
        if not isinstance(value, dict):
            raise DecodeError(f"bad {writer.cls.__name__} body: not a record")
        try:
            record: T = self._convert[writer.cls][1](value)
        except (TypeError, ValueError) as exc:
            raise DecodeError(f"bad {writer.cls.__name__} body: {exc}") from exc
        return record

    def from_json(self, cls: type[T], obj: Any) -> T:
        """A record from a JSON object in the contract's shape; ValidationError names the bad field."""
        if not isinstance(obj, dict):
            raise ValidationError(f"{cls.__name__}: a JSON object is expected, got {type(obj).__name__}")
        flds = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(obj) - set(flds))
        if unknown:
            raise ValidationError(f"{cls.__name__}: unknown fields {unknown}")
        missing = [n for n, f in flds.items() if n not in obj and f.default is MISSING and f.default_factory is MISSING]
        if missing:
            raise ValidationError(f"{cls.__name__}: missing required fields {missing}")
        data = {n: obj[n] if n in obj else _default(f) for n, f in flds.items()}
        if cls is records.DeadLetter:
            data = {**data, **{n: _unb64(data[n], n) for n in ("key", "value")}}
        data = _nested_defaults(cls, data, self)
        try:
            avro_validate(data, self._parsed[cls], raise_errors=True)
        except AvroValidationError as exc:  # lists the failing field paths
            raise ValidationError(f"{cls.__name__}: {'; '.join(map(str, exc.errors))}") from exc
        return self.from_dict(cls, data)

    def to_json(self, record: Any) -> dict[str, Any]:
        """A JSON-ready dict of `record` (bytes as base64)."""
        return _jsonable(self.to_dict(record))


def _fast_reader(schema: dict[str, Any], cls: type) -> Reader | None:
    try:
        return compile_reader(schema, cls)
    except Unsupported:
        return None


def _fast_writer(schema: dict[str, Any], cls: type) -> Writer | None:
    try:
        return compile_writer(schema, cls)
    except Unsupported:
        return None


def _default(f: Any) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def _unb64(value: Any, name: str) -> Any:
    if value is None or isinstance(value, bytes):
        return value
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"DeadLetter: {name} must be base64: {exc}") from exc


def _nested_defaults(cls: type, data: dict[str, Any], codec: Codec) -> dict[str, Any]:
    """Fill defaults inside nested records given as JSON objects (context, job)."""
    out = dict(data)
    hints = typing.get_type_hints(cls)
    for name, value in data.items():
        inner = [a for a in typing.get_args(hints[name]) or (hints[name],) if is_dataclass(a)]
        if not inner or not isinstance(value, dict):
            continue
        if inner[0] in codec.schemas:
            out[name] = codec.to_dict(codec.from_json(inner[0], value))
            continue
        known = {f.name: f for f in fields(inner[0])}
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValidationError(f"{cls.__name__}.{name}: unknown fields {unknown}")
        out[name] = {n: value.get(n, _default(f)) for n, f in known.items()}
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


_DEFAULT = Codec()


def encode(record: Any) -> bytes:
    """Avro single-object encoding of `record` with its current schema."""
    return _DEFAULT.encode(record)


def decode(data: bytes, expected: type[T] | None = None) -> T:
    """Decode single-object-encoded bytes written with any committed schema version."""
    return _DEFAULT.decode(data, expected)


def from_json(cls: type[T], obj: Any) -> T:
    """A record from a JSON object in the contract's shape."""
    return _DEFAULT.from_json(cls, obj)


def to_json(record: Any) -> dict[str, Any]:
    """A JSON-ready dict of `record`."""
    return _DEFAULT.to_json(record)


def default_codec() -> Codec:
    """The codec built from the installed schemas."""
    return _DEFAULT
