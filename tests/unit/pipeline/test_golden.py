"""The per-event path gives exactly the decisions, jobs and stored states it gave when the fixture was made."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.pipeline.golden import scenario, summary

FIXTURE = Path(__file__).with_name("golden_fixture.json")


def test_bench_and_story_inputs_give_the_recorded_decisions_jobs_and_states() -> None:
    expected = json.loads(FIXTURE.read_text())
    got = summary(scenario())
    # Counts first, so a failure says what changed before the hashes say that something did.
    assert {k: v for k, v in got.items() if "sha256" not in k} == {
        k: v for k, v in expected.items() if "sha256" not in k
    }
    assert got["rows_sha256"] == expected["rows_sha256"], "same counts, different decisions/jobs/firings"
    assert got["table_sha256"] == expected["table_sha256"], "same outputs, different stored states"
    assert got["sha256"] == expected["sha256"]
