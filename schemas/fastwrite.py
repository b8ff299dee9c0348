"""Generated Avro writers for the current schemas: byte-for-byte what fastavro writes, minus its dispatch."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from schemas.fastread import Unsupported

Writer = Callable[[Any, bytearray], None]

_DOUBLE = struct.Struct("<d").pack
_FLOAT = struct.Struct("<f").pack
_MIN_LONG, _MAX_LONG = -(2**63), 2**63 - 1
# Python type checks per Avro primitive, in the order a value is matched against union branches
# (bool before long: bool is a subclass of int).
_PRIMITIVE_CHECKS = {
    "null": "{v} is None",
    "boolean": "{v}.__class__ is bool",
    "long": "isinstance({v}, int) and {v}.__class__ is not bool",
    "int": "isinstance({v}, int) and {v}.__class__ is not bool",
    "double": "isinstance({v}, (float, int)) and {v}.__class__ is not bool",
    "float": "isinstance({v}, (float, int)) and {v}.__class__ is not bool",
    "string": "isinstance({v}, str)",
    "bytes": "isinstance({v}, bytes)",
}


def _long(v: int, buf: bytearray) -> None:
    if not _MIN_LONG <= v <= _MAX_LONG:
        raise OverflowError(f"{v} does not fit in an Avro long")
    n = (v << 1) ^ (v >> 63)
    while n > 0x7F:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def _string(v: str, buf: bytearray) -> None:
    data = v.encode()
    _long(len(data), buf)
    buf += data


def _bytes(v: bytes, buf: bytearray) -> None:
    _long(len(v), buf)
    buf += v


def _double(v: float, buf: bytearray) -> None:
    buf += _DOUBLE(v)


class _Gen:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.n = 0
        self.done: set[str] = set()
        self.env: dict[str, Any] = {
            "_long": _long,
            "_string": _string,
            "_bytes": _bytes,
            "_double": _double,
            "_FLOAT": _FLOAT,
        }

    def var(self, stem: str) -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def value(self, out: list[str], ind: int, schema: Any, v: str) -> None:
        pad = "    " * ind
        if isinstance(schema, list):
            self.union(out, ind, schema, v)
            return
        kind = schema["type"] if isinstance(schema, dict) else schema
        if kind == "null":
            out.append(f"{pad}if {v} is not None: raise TypeError('expected null')")
        elif kind == "boolean":
            out.append(f"{pad}if {v}.__class__ is not bool: raise TypeError('expected a bool, got ' + repr({v}))")
            out.append(f"{pad}buf.append(1 if {v} else 0)")
        elif kind in ("int", "long"):
            out.append(f"{pad}_long({v}, buf)")
        elif kind == "double":
            out.append(f"{pad}_double({v}, buf)")
        elif kind == "float":
            out.append(f"{pad}buf += _FLOAT({v})")
        elif kind == "string":
            out.append(f"{pad}_string({v}, buf)")
        elif kind == "bytes":
            out.append(f"{pad}_bytes({v}, buf)")
        elif kind in ("array", "map"):
            item = self.var("i")
            is_map = kind == "map"
            out.append(f"{pad}if {v}:")
            out.append(f"{pad}    _long(len({v}), buf)")
            if is_map:
                key = self.var("k")
                out.append(f"{pad}    for {key}, {item} in {v}.items():")
                out.append(f"{pad}        _string({key}, buf)")
            else:
                out.append(f"{pad}    for {item} in {v}:")
            self.value(out, ind + 2, schema["values" if is_map else "items"], item)
            out.append(f"{pad}buf.append(0)")
        elif kind == "record":
            out.append(f"{pad}{self.record(schema)}({v}, buf)")
        else:
            raise Unsupported(f"type {kind}")

    def union(self, out: list[str], ind: int, branches: list[Any], v: str) -> None:
        pad = "    " * ind
        for i, branch in enumerate(branches):
            kind = branch["type"] if isinstance(branch, dict) else branch
            if kind in _PRIMITIVE_CHECKS:
                check = _PRIMITIVE_CHECKS[kind].format(v=v)
            elif kind == "record":
                check = f"{v}.__class__.__name__ == {branch['name']!r}"
            else:
                raise Unsupported(f"union branch {kind}")
            out.append(f"{pad}{'if' if i == 0 else 'elif'} {check}:")
            out.append(f"{pad}    buf.append({i * 2})")  # zigzag of a small index is twice the index
            if kind != "null":
                self.value(out, ind + 1, branch, v)
        out.append(f"{pad}else: raise TypeError('no union branch for ' + repr({v}))")

    def record(self, schema: dict[str, Any]) -> str:
        name = f"_write_{schema['name']}"
        if name in self.done:
            return name
        self.done.add(name)
        body = [f"def {name}(o, buf):"]
        for f in schema["fields"]:
            v = self.var("v")
            body.append(f"    {v} = o.{f['name']}")
            self.value(body, 1, f["type"], v)
        self.lines += [*body, ""]
        return name


def compile_writer(schema: dict[str, Any], cls: type) -> Writer:
    """A function (record, buffer) appending the record's Avro binary; raises Unsupported for exotic schemas."""
    if [f.name for f in fields(cls)] != [f["name"] for f in schema["fields"]]:
        raise Unsupported(f"{schema['name']} fields differ from {cls.__name__}")
    gen = _Gen()
    name = gen.record(schema)
    namespace = dict(gen.env)
    exec(compile("\n".join(gen.lines), f"<avro writer {cls.__name__}>", "exec"), namespace)  # generated above
    writer: Writer = namespace[name]
    return writer
