"""Generated Avro readers for the current schemas: straight-line Python, several times faster than generic ones."""

from __future__ import annotations

import struct
import typing
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any

Reader = Callable[[bytes, int], tuple[Any, int]]

_DOUBLE = struct.Struct("<d").unpack_from
_FLOAT = struct.Struct("<f").unpack_from


class Unsupported(Exception):
    """The schema uses a type the generator does not handle; the caller falls back to fastavro."""


class _Gen:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.n = 0
        self.env: dict[str, Any] = {"_DOUBLE": _DOUBLE, "_FLOAT": _FLOAT, "_new": object.__new__}

    def var(self, stem: str) -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)

    def long(self, ind: int, out: str) -> None:
        x, s = self.var("x"), self.var("s")
        self.emit(ind, f"{x} = b[p]; p += 1")
        self.emit(ind, f"if {x} & 0x80:")
        self.emit(ind + 1, f"{x} &= 0x7F; {s} = 7")
        self.emit(ind + 1, "while True:")
        self.emit(ind + 2, "c = b[p]; p += 1")
        self.emit(ind + 2, f"{x} |= (c & 0x7F) << {s}")
        self.emit(ind + 2, "if not c & 0x80: break")
        self.emit(ind + 2, f"{s} += 7")
        self.emit(ind + 2, f"if {s} > 63: raise ValueError('varint longer than 10 bytes')")
        self.emit(ind, f"{out} = ({x} >> 1) ^ -({x} & 1)")

    def blob(self, ind: int, out: str, text: bool) -> None:
        n = self.var("n")
        self.long(ind, n)
        self.emit(ind, f"if {n} < 0 or p + {n} > len(b): raise ValueError('length ' + str({n}) + ' past the end')")
        chunk = f"b[p:p + {n}]"
        self.emit(ind, f"{out} = str({chunk}, 'utf-8')" if text else f"{out} = bytes({chunk})")
        self.emit(ind, f"p += {n}")

    def value(self, ind: int, schema: Any, out: str, py: Any) -> None:
        if isinstance(schema, list):
            idx = self.var("u")
            self.long(ind, idx)
            for i, branch in enumerate(schema):
                self.emit(ind, f"{'if' if i == 0 else 'elif'} {idx} == {i}:")
                self.value(ind + 1, branch, out, _branch_type(py, branch))
            self.emit(ind, f"else: raise ValueError('union index ' + str({idx}) + ' out of range')")
            return
        kind = schema["type"] if isinstance(schema, dict) else schema
        if kind == "null":
            self.emit(ind, f"{out} = None")
        elif kind == "boolean":
            self.emit(ind, f"{out} = b[p] == 1; p += 1")
        elif kind in ("int", "long"):
            self.long(ind, out)
        elif kind == "double":
            self.emit(ind, f"{out} = _DOUBLE(b, p)[0]; p += 8")
        elif kind == "float":
            self.emit(ind, f"{out} = _FLOAT(b, p)[0]; p += 4")
        elif kind in ("string", "bytes"):
            self.blob(ind, out, kind == "string")
        elif kind in ("array", "map"):
            self.collection(ind, schema, out, py)
        elif kind == "record":
            if not is_dataclass(py):
                raise Unsupported(f"record {schema.get('name')} has no dataclass")
            name = self.record(schema, py)
            self.emit(ind, f"{out}, p = {name}(b, p)")
        else:
            raise Unsupported(f"type {kind}")

    def collection(self, ind: int, schema: dict[str, Any], out: str, py: Any) -> None:
        is_map = schema["type"] == "map"
        count, item, key, junk = self.var("k"), self.var("i"), self.var("m"), self.var("z")
        self.emit(ind, f"{out} = {{}}" if is_map else f"{out} = []")
        self.emit(ind, "while True:")
        self.long(ind + 1, count)
        self.emit(ind + 1, f"if {count} == 0: break")
        self.emit(ind + 1, f"if {count} < 0:")
        self.emit(ind + 2, f"{count} = -{count}")
        self.long(ind + 2, junk)  # block size in bytes, only useful for skipping
        self.emit(
            ind + 1, f"if {count} > len(b) - p: raise ValueError('block count ' + str({count}) + ' past the end')"
        )
        self.emit(ind + 1, f"for _ in range({count}):")
        args = typing.get_args(py)
        if is_map:
            self.blob(ind + 2, key, True)
        self.value(ind + 2, schema["values" if is_map else "items"], item, args[-1] if args else Any)
        self.emit(ind + 2, f"{out}[{key}] = {item}" if is_map else f"{out}.append({item})")

    def record(self, schema: dict[str, Any], cls: Any) -> str:
        name = f"_read_{schema['name']}"
        if name in self.env or any(line.startswith(f"def {name}(") for line in self.lines):
            return name
        names = [f.name for f in fields(cls)]
        if names != [f["name"] for f in schema["fields"]]:
            raise Unsupported(f"{schema['name']} fields differ from {cls.__name__}")
        hints = typing.get_type_hints(cls)
        body = _Gen()
        body.n, body.env = self.n + 1000, self.env
        body.emit(0, f"def {name}(b, p):")
        outs = []
        for f in schema["fields"]:
            out = body.var("v")
            outs.append(out)
            body.value(1, f["type"], out, hints[f["name"]])
        # Frozen dataclass __init__ sets each field through object.__setattr__; writing the slots
        # directly builds the same object in about half the time.
        body.emit(1, f"o = _new({cls.__name__}_)")
        for f, out in zip(schema["fields"], outs, strict=True):
            setter = f"_set_{cls.__name__}_{f['name']}"
            self.env[setter] = cls.__dict__[f["name"]].__set__
            body.emit(1, f"{setter}(o, {out})")
        body.emit(1, "return o, p")
        self.env[f"{cls.__name__}_"] = cls
        self.n = body.n
        self.lines = [*body.lines, "", *self.lines]
        return name


def _branch_type(py: Any, branch: Any) -> Any:
    """The Python type of one union branch (for nested records and collections)."""
    for arg in typing.get_args(py) or (py,):
        if arg is not type(None) and (is_dataclass(arg) or typing.get_origin(arg) in (list, dict)):
            return arg
    return Any


def compile_reader(schema: dict[str, Any], cls: type) -> Reader:
    """A function (buffer, offset) -> (record, offset after it); raises Unsupported for exotic schemas."""
    gen = _Gen()
    name = gen.record(schema, cls)
    namespace = dict(gen.env)
    exec(compile("\n".join(gen.lines), f"<avro reader {cls.__name__}>", "exec"), namespace)  # generated above
    reader: Reader = namespace[name]
    return reader
