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


def _write_with(path: Path, datum: dict) -> bytes:
    writer = json.loads(path.read_text())
    buf = BytesIO()
    buf.write(b"\xc3\x01" + codec.fingerprint(writer))
    schemaless_writer(buf, parse_schema(writer), datum)
    return buf.getvalue()


def test_a_v1_event_reads_with_no_title_or_image_and_a_v2_remove_from_cart_round_trips() -> None:
    v1 = {"event_id": "e1", "user_id": "u1", "type": "cart", "event_time_ms": 1, "session_id": None, "item_id": "i1",
          "category": None, "creator": None, "price": 9.5, "currency": "EUR", "cart_id": "k", "quantity": 2,
          "job_id": None, "properties": {}, "context": None}  # fmt: skip
    old = codec.decode(_write_with(SCHEMA_DIR / "history/BehaviorEvent/v1.avsc", v1))
    assert (old.item_id, old.quantity, old.title, old.image_url) == ("i1", 2, None, None)
    new = type(old)(event_id="e2", user_id="u1", type="remove_from_cart", event_time_ms=2, item_id="i1", cart_id="k",
                    title="Red shoes", image_url="https://img.example/i1.jpg")  # fmt: skip
    assert codec.decode(codec.encode(new)) == new


def test_a_v1_catalogue_update_reads_with_stock_unknown() -> None:
    v1 = {"item_id": "i1", "kind": "price_drop", "category": None, "creator": None, "title": "Red shoes",
          "price": 40.0, "previous_price": 50.0, "currency": "EUR", "image_url": None, "deep_link": None,
          "event_time_ms": 1}  # fmt: skip
    old = codec.decode(_write_with(SCHEMA_DIR / "history/CatalogItem/v1.avsc", v1))
    assert (old.title, old.previous_price, old.in_stock) == ("Red shoes", 50.0, None)
