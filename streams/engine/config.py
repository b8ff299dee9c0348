"""The trigger catalogue: typed trigger definitions read from YAML, every error with its path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from streams.engine.durations import parse_duration
from streams.engine.errors import TriggerConfigError

KINDS = ("event", "absence", "inactivity", "milestone", "sequence", "recommendation")
OPERATORS = ("eq", "ne", "in", "gt", "gte", "lt", "lte")
CATALOG_KINDS = ("new_arrival", "back_in_stock", "price_drop")

Scalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Condition:
    """One field compared with one operator (`where` filters and audiences)."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class Match:
    """An event type (or any type when empty) plus property conditions."""

    types: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class Step:
    """One sequence step: sent `after` the start unless/if the user did something since."""

    after_ms: int
    if_done: tuple[str, ...] = ()
    unless_done: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Trigger:
    """One trigger of any kind; fields that a kind does not use keep their defaults."""

    id: str
    kind: str
    on: Match = Match()
    audience: tuple[Condition, ...] = ()
    message: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)
    # event
    occurrence: str = "every"  # "first" | "every" | "nth"
    nth: int = 1
    # absence
    stop: Match = Match()
    within_ms: int = 0
    key: str = "user"
    reeligible_after_ms: int = 0
    # inactivity
    stages_ms: tuple[int, ...] = ()
    # milestone
    mode: str = "count"  # "count" | "sum" | "lifetime" | "streak" | "anniversary"
    sum_field: str = "price"
    threshold: float = 0.0
    window_ms: int = 0
    hop_ms: int = 0
    streak_days: int = 0
    date_field: str = "signup_ms"
    # sequence
    goal: Match = Match()
    steps: tuple[Step, ...] = ()
    # recommendation
    source: str = "new_arrival"
    by: str = "category"
    min_affinity: float = 0.0
    half_life_ms: int = 7 * 86_400_000
    lookback_ms: int = 7 * 86_400_000


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Every trigger in a file, indexed by id."""

    triggers: tuple[Trigger, ...]


class _Reader:
    """Reads values at paths and collects every error instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def duration(self, node: dict[str, Any], key: str, path: str, default: int | None = None) -> int:
        if key not in node:
            if default is None:
                self.fail(f"{path}.{key}", "required")
            return default or 0
        try:
            return parse_duration(node[key])
        except ValueError as exc:
            self.fail(f"{path}.{key}", str(exc))
            return 0

    def number(self, node: dict[str, Any], key: str, path: str, default: float | None = None) -> float:
        value = node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"{path}.{key}", "required" if key not in node else "expected a number")
            return 0.0
        return float(value)

    def choice(self, node: dict[str, Any], key: str, path: str, options: tuple[str, ...], default: str) -> str:
        value = node.get(key, default)
        if value not in options:
            self.fail(f"{path}.{key}", f"expected one of {', '.join(options)}")
            return default
        return str(value)

    def strings(self, node: dict[str, Any], key: str, path: str) -> dict[str, str]:
        value = node.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str | int | float) for v in value.values()):
            self.fail(f"{path}.{key}", "expected a mapping of strings")
            return {}
        return {str(k): str(v) for k, v in value.items()}

    def types(self, value: Any, path: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        self.fail(path, "expected an event type or a list of them")
        return ()

    def conditions(self, node: Any, path: str) -> tuple[Condition, ...]:
        if node is None:
            return ()
        if not isinstance(node, dict):
            self.fail(path, "expected a mapping of field: value or field: {operator: value}")
            return ()
        out: list[Condition] = []
        for name, spec in node.items():
            if isinstance(spec, dict):
                for op, value in spec.items():
                    if op not in OPERATORS:
                        self.fail(f"{path}.{name}.{op}", f"unknown operator (use {', '.join(OPERATORS)})")
                    elif op in ("gt", "gte", "lt", "lte") and not isinstance(value, int | float | str):
                        self.fail(f"{path}.{name}.{op}", "expected a number or a duration")
                    else:
                        out.append(Condition(str(name), op, _comparable(value)))
            elif isinstance(spec, list):
                out.append(Condition(str(name), "in", tuple(spec)))
            else:
                out.append(Condition(str(name), "eq", spec))
        return tuple(out)

    def match(self, node: Any, path: str, required: bool = True) -> Match:
        if node is None:
            if required:
                self.fail(path, "required")
            return Match()
        if isinstance(node, str | list):
            return Match(self.types(node, path))
        if not isinstance(node, dict):
            self.fail(path, "expected an event type or {type: ..., where: ...}")
            return Match()
        if required and "type" not in node:
            self.fail(f"{path}.type", "required")
        return Match(self.types(node.get("type"), f"{path}.type"), self.conditions(node.get("where"), f"{path}.where"))


def _comparable(value: Any) -> Any:
    """Durations in comparisons ("7d") become milliseconds so they compare with ages."""
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError:
            return value
    return value


def _trigger(r: _Reader, node: Any, path: str) -> Trigger | None:
    if not isinstance(node, dict):
        r.fail(path, "expected a mapping")
        return None
    if True in node:  # YAML 1.1 reads a bare `on:` key as the boolean true
        node = {("on" if k is True else k): v for k, v in node.items()}
    tid = node.get("id")
    if not isinstance(tid, str) or not tid or "|" in tid:
        r.fail(f"{path}.id", "expected a non-empty name without '|'")
        tid = ""
    kind = node.get("kind")
    if kind not in KINDS:
        r.fail(f"{path}.kind", f"expected one of {', '.join(KINDS)}")
        return None
    common: dict[str, Any] = {
        "id": tid,
        "kind": kind,
        "audience": r.conditions(node.get("audience"), f"{path}.audience"),
        "message": r.strings(node, "message", path),
        "data": r.strings(node, "data", path),
    }
    spec = _KIND_READERS[kind](r, node, path)
    return Trigger(**common, **spec)


def _event(r: _Reader, node: dict[str, Any], path: str) -> dict[str, Any]:
    occurrence = r.choice(node, "occurrence", path, ("first", "every", "nth"), "every")
    nth = int(r.number(node, "nth", path, 1))
    if occurrence == "nth" and nth < 1:
        r.fail(f"{path}.nth", "expected a positive integer")
    return {"on": r.match(node.get("on"), f"{path}.on"), "occurrence": occurrence, "nth": max(nth, 1)}


def _absence(r: _Reader, node: dict[str, Any], path: str) -> dict[str, Any]:
    before = len(r.errors)
    within = r.duration(node, "within", path)
    if within <= 0 and len(r.errors) == before:
        r.fail(f"{path}.within", "expected a positive duration")
    return {
        "on": r.match(node.get("on"), f"{path}.on"),
        "stop": r.match(node.get("stop"), f"{path}.stop"),
        "within_ms": within,
        "key": str(node.get("key", "user")),
        "reeligible_after_ms": r.duration(node, "reeligible_after", path, 0),
    }


def _inactivity(r: _Reader, node: dict[str, Any], path: str) -> dict[str, Any]:
    stages = node.get("stages")
    out: list[int] = []
    if not isinstance(stages, list) or not stages:
        r.fail(f"{path}.stages", "expected a list of durations")
    else:
        for i, stage in enumerate(stages):
            try:
                out.append(parse_duration(stage))
            except ValueError as exc:
                r.fail(f"{path}.stages[{i}]", str(exc))
    if out != sorted(set(out)):
        r.fail(f"{path}.stages", "expected increasing durations")
    return {"on": r.match(node.get("on"), f"{path}.on", required=False), "stages_ms": tuple(out)}


def _milestone(r: _Reader, node: dict[str, Any], path: str) -> dict[str, Any]:
    mode = r.choice(node, "mode", path, ("count", "sum", "lifetime", "streak", "anniversary"), "count")
    spec: dict[str, Any] = {"mode": mode}
    if mode == "anniversary":
        spec["date_field"] = str(node.get("date", "signup_ms"))
        return spec
    spec["on"] = r.match(node.get("on"), f"{path}.on")
    if mode == "streak":
        spec["streak_days"] = int(r.number(node, "days", path))
        return spec
    spec["threshold"] = r.number(node, "threshold", path)
    if mode in ("count", "sum"):
        spec["window_ms"] = r.duration(node, "window", path)
        spec["hop_ms"] = r.duration(node, "hop", path, spec["window_ms"])
        if spec["window_ms"] and not 0 < spec["hop_ms"] <= spec["window_ms"]:
            r.fail(f"{path}.hop", "expected a duration between 0 and the window")
        spec["sum_field"] = str(node.get("field", "price"))
    return spec


def _sequence(r: _Reader, node: dict[str, Any], path: str) -> dict[str, Any]:
    steps: list[Step] = []
    raw = node.get("steps")
    if not isinstance(raw, list) or not raw:
        r.fail(f"{path}.steps", "expected a list of steps")
        raw = []
    for i, step in enumerate(raw):
        spath = f"{path}.steps[{i}]"
        if not isinstance(step, dict):
            r.fail(spath, "expected a mapping")
            continue
        steps.append(
            Step(
                r.duration(step, "after", spath),
                r.types(step.get("if_done"), f"{spath}.if_done"),
                r.types(step.get("unless_done"), f"{spath}.unless_done"),
            )
        )
    return {
        "on": r.match(node.get("on"), f"{path}.on"),
        "goal": r.match(node.get("goal"), f"{path}.goal", required=False),
        "steps": tuple(steps),
    }


def _recommendation(r: _Reader, node: dict[str, Any], path: str) -> dict[str, Any]:
    source = r.choice(node, "source", path, CATALOG_KINDS, "new_arrival")
    return {
        "source": source,
        "by": r.choice(
            node, "by", path, ("category", "creator", "item"), "item" if source != "new_arrival" else "category"
        ),
        "min_affinity": r.number(node, "min_affinity", path, 0.0),
        "half_life_ms": r.duration(node, "half_life", path, 7 * 86_400_000),
        "lookback_ms": r.duration(node, "lookback", path, 7 * 86_400_000),
    }


_KIND_READERS = {
    "event": _event,
    "absence": _absence,
    "inactivity": _inactivity,
    "milestone": _milestone,
    "sequence": _sequence,
    "recommendation": _recommendation,
}


def parse_catalogue(data: Any) -> Catalogue:
    """Build a catalogue from parsed YAML, or raise TriggerConfigError listing every error."""
    r = _Reader()
    if not isinstance(data, dict) or not isinstance(data.get("triggers"), list):
        raise TriggerConfigError(["triggers: expected a list of triggers"])
    triggers: list[Trigger] = []
    seen: set[str] = set()
    for i, node in enumerate(data["triggers"]):
        trigger = _trigger(r, node, f"triggers[{i}]")
        if trigger is None:
            continue
        if trigger.id in seen:
            r.fail(f"triggers[{i}].id", f"duplicate id {trigger.id!r}")
        seen.add(trigger.id)
        triggers.append(trigger)
    if r.errors:
        raise TriggerConfigError(r.errors)
    return Catalogue(tuple(triggers))


def load_catalogue(text: str) -> Catalogue:
    """Parse YAML text into a catalogue, or raise TriggerConfigError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TriggerConfigError([f"yaml: {exc}"]) from exc
    return parse_catalogue(data)
