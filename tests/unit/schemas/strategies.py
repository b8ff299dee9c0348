"""Hypothesis strategies for contract records and for data of any Avro schema."""

from __future__ import annotations

import typing
from dataclasses import fields, is_dataclass
from typing import Any

from hypothesis import strategies as st

LONG = st.integers(min_value=-(2**63), max_value=2**63 - 1)
DOUBLE = st.floats(allow_nan=False)  # NaN != NaN would make equality checks meaningless
TEXT = st.text(max_size=20)
PROPERTY = st.one_of(st.none(), st.booleans(), LONG, DOUBLE, TEXT)


def _for_type(tp: Any) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if is_dataclass(tp):
        return records(tp)  # type: ignore[arg-type]
    if origin in (typing.Union, __import__("types").UnionType):
        return st.one_of(*[_for_type(a) for a in args])
    if origin is list:
        return st.lists(_for_type(args[0]), max_size=4)
    if origin is dict:
        return st.dictionaries(TEXT, PROPERTY if len(typing.get_args(args[1])) > 1 else _for_type(args[1]), max_size=4)
    simple = {
        str: TEXT,
        int: LONG,
        float: DOUBLE,
        bool: st.booleans(),
        bytes: st.binary(max_size=40),
        type(None): st.none(),
    }
    return simple[tp]


def records(cls: type) -> st.SearchStrategy[Any]:
    """Any instance of a contract record class, nested records included."""
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: _for_type(hints[f.name]) for f in fields(cls)})


def avro_datum(schema: Any, named: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Any datum of a (parsed-or-raw, self-contained) Avro schema."""
    named = {} if named is None else named
    if isinstance(schema, list):
        return st.one_of(*[avro_datum(s, named) for s in schema])
    if isinstance(schema, dict):
        kind = schema["type"]
        if kind == "record":
            named[schema.get("namespace", "dev.nudge") + "." + schema["name"]] = schema
            named[schema["name"]] = schema
            return st.fixed_dictionaries({f["name"]: avro_datum(f["type"], named) for f in schema["fields"]})
        if kind == "array":
            return st.lists(avro_datum(schema["items"], named), max_size=3)
        if kind == "map":
            return st.dictionaries(TEXT, avro_datum(schema["values"], named), max_size=3)
        if kind == "enum":
            return st.sampled_from(schema["symbols"])
        return avro_datum(kind, named)
    primitive = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": LONG,
        "float": st.floats(allow_nan=False, width=32),
        "double": DOUBLE,
        "string": TEXT,
        "bytes": st.binary(max_size=40),
    }
    if schema in primitive:
        return primitive[schema]
    return avro_datum(named[schema], named)
