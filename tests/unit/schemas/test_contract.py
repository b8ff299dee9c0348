"""The .avsc files follow the contract's conventions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import codec, topics
from schemas.records import RECORD_TYPES

SCHEMA_DIR = Path(codec.__file__).resolve().parent
FILES = sorted(SCHEMA_DIR.glob("*.avsc"))


def _records(schema: object):
    if isinstance(schema, dict):
        if schema.get("type") == "record":
            yield schema
        for value in schema.values():
            yield from _records(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _records(value)


def test_one_file_per_record() -> None:
    assert {p.stem for p in FILES} == {cls.__name__ for cls in RECORD_TYPES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_schema_conventions(path: Path) -> None:
    for record in _records(json.loads(path.read_text())):
        assert record.get("namespace") == "dev.nudge", record["name"]
        assert record.get("doc"), record["name"]
        for field in record["fields"]:
            where = f"{record['name']}.{field['name']}"
            assert field.get("doc"), f"{where} has no doc"
            kind = field["type"]
            if isinstance(kind, list):
                assert kind[0] == "null" and len(kind) == 2 and field.get("default", 0) is None, where
            if isinstance(kind, dict) and kind.get("type") in ("array", "map"):
                assert "default" in field, f"{where} needs a default"


def test_dlq_naming() -> None:
    assert topics.dlq_for(topics.BEHAVIOR_EVENTS) == topics.BEHAVIOR_EVENTS_DLQ
    assert topics.dlq_for(topics.NOTIFICATION_JOBS) == topics.JOBS_DLQ
    assert topics.prefixed("", "a") == "a"
    assert topics.prefixed("dev.", "a") == "dev.a"
