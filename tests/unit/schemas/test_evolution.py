"""Backward compatibility: the current reader decodes data written with every committed schema version."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

import pytest
from fastavro import parse_schema, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import codec
from schemas.records import RECORD_TYPES
from tests.unit.schemas.strategies import avro_datum

SCHEMA_DIR = Path(codec.__file__).resolve().parent
HISTORY = sorted(SCHEMA_DIR.glob("history/*/v*.avsc"))


def test_every_record_has_a_committed_version() -> None:
    assert {p.parent.name for p in HISTORY} == {cls.__name__ for cls in RECORD_TYPES}


@pytest.mark.parametrize("cls", RECORD_TYPES, ids=lambda c: c.__name__)
def test_current_schema_is_committed_to_history(cls: type) -> None:
    """A changed schema needs a new history/<Record>/v<N>.avsc, or old readers meet an unknown fingerprint."""
    versions = sorted((SCHEMA_DIR / "history" / cls.__name__).glob("v*.avsc"), key=lambda p: int(p.stem[1:]))
    latest = json.loads(versions[-1].read_text())
    assert codec.fingerprint(latest) == codec.default_codec().fingerprint_of(cls), (
        f"{cls.__name__}.avsc changed: save its self-contained form as history/{cls.__name__}/v{len(versions) + 1}.avsc"
    )


@pytest.mark.parametrize("path", HISTORY, ids=lambda p: f"{p.parent.name}/{p.name}")
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_current_reader_reads_every_committed_version(path: Path, data: st.DataObject) -> None:
    writer = json.loads(path.read_text())
    datum = data.draw(avro_datum(writer))
    buf = BytesIO()
    buf.write(b"\xc3\x01" + codec.fingerprint(writer))
    schemaless_writer(buf, parse_schema(writer), datum)
    record = codec.decode(buf.getvalue())
    assert type(record).__name__ == path.parent.name
    current = codec.to_json(record)
    for name, value in datum.items():  # fields both versions share keep their value
        if name in current and not isinstance(value, dict):
            assert current[name] == codec._jsonable(value)
