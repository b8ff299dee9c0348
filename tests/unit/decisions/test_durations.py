"""Decision config and trigger catalogue read durations with one grammar."""

from __future__ import annotations

import pytest

from streams.decisions import parse_config
from streams.decisions.config import parse_duration as decisions_duration
from streams.decisions.errors import DecisionConfigError
from streams.engine.durations import parse_duration as engine_duration

CASES = ["30m", "1h30m", "1h 30m", " 24h ", "250ms", "2w", "1d12h", 0, 90_000]
BAD = ["", "soon", "30x", "m30", "-5m", "1h30", "30 minutes", True, 1.5, None, -1]


@pytest.mark.parametrize("value", CASES)
def test_both_files_read_a_duration_alike(value: object) -> None:
    assert decisions_duration(value, "budget.per") == engine_duration(value)


def test_a_compound_duration_works_in_the_decisions_file() -> None:
    cfg = parse_config({"budget": {"max": 3, "per": "1h30m", "min_gap": "1m30s"}, "templates": {}})
    assert (cfg.budget.cap.window_ms, cfg.budget.min_gap_ms) == (5_400_000, 90_000)


@pytest.mark.parametrize("value", BAD)
def test_both_files_refuse_the_same_text_and_say_what_they_expected(value: object) -> None:
    with pytest.raises(ValueError, match="expected a duration like 30m, 1h30m, 7d or milliseconds"):
        engine_duration(value)
    with pytest.raises(DecisionConfigError, match=r"^budget\.per: expected a duration like 30m, 1h30m"):
        decisions_duration(value, "budget.per")
