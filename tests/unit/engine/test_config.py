"""Catalogue loading and validation errors with paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.engine.config import load_catalogue
from streams.engine.durations import parse_duration
from streams.engine.errors import TriggerConfigError

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("text", "ms"),
    [("30m", 1_800_000), ("7d", 604_800_000), ("1h30m", 5_400_000), ("250ms", 250), (5, 5), ("2w", 1_209_600_000)],
)
def test_durations(text: object, ms: int) -> None:
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["", "soon", "30x", "m30", "-5m", True, 1.5, None])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(text)


def test_every_error_has_its_path() -> None:
    text = """
triggers:
  - {id: a, kind: event, on: {type: view}}
  - {id: b, kind: absence, on: cart, stop: purchase, within: 30m}
  - {id: c, kind: absence, on: cart, stop: purchase, within: soon}
  - {id: d, kind: telepathy}
  - {id: e, kind: inactivity, stages: [30d, 7d]}
  - {id: a, kind: event, on: {type: view, where: {price: {about: 3}}}}
  - {id: f, kind: sequence, on: signup, steps: [{after: never}]}
"""
    with pytest.raises(TriggerConfigError) as info:
        load_catalogue(text)
    assert info.value.errors == [
        "triggers[2].within: expected a duration like 30m, 1h30m, 7d or milliseconds, got 'soon'",
        "triggers[3].kind: expected one of event, absence, inactivity, milestone, sequence, recommendation",
        "triggers[4].stages: expected increasing durations",
        "triggers[5].on.where.price.about: unknown operator (use eq, ne, in, gt, gte, lt, lte)",
        "triggers[5].id: duplicate id 'a'",
        "triggers[6].steps[0].after: expected a duration like 30m, 1h30m, 7d or milliseconds, got 'never'",
    ]


def test_not_a_catalogue() -> None:
    with pytest.raises(TriggerConfigError, match="triggers: expected a list"):
        load_catalogue("- 1\n")


def test_shipped_catalogue_loads() -> None:
    catalogue = load_catalogue((ROOT / "streams" / "triggers.yaml").read_text())
    kinds = {t.kind for t in catalogue.triggers}
    assert kinds == {"event", "absence", "inactivity", "milestone", "sequence", "recommendation"}
