"""The scale bench's pure helpers: sizes, Faust's recovery log tables, the report section and where it goes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from streams.bench import comparisons, scale_report, worker_log, workload
from streams.bench.runner import Figure
from streams.bench.scale import Phase, SizeRun, parse_sizes, probe_users, with_rate_runs

# What a Faust 0.15 worker logs at -l info when it starts recovering (two tables, the ditto mark for repeats).
LOG = """\
[2026-12-03 08:13:30,101] [1] [INFO] Highwater - Active:
+Highwater - Active-----------------------+-----------+-----------+
| topic                                   | partition | highwater |
+-----------------------------------------+-----------+-----------+
| app-attribution-changelog               | 0         | -1        |
| app-engine-state-changelog              | 0         | 5000      |
| 〃                                      | 1         | 4990      |
+-----------------------------------------+-----------+-----------+
[2026-12-03 08:13:30,102] [1] [INFO] active offsets at start of reading:
+Reading Starts At - Active---------------+-----------+--------+
| topic                                   | partition | offset |
+-----------------------------------------+-----------+--------+
| app-attribution-changelog               | 0         | -1     |
| app-engine-state-changelog              | 0         | 4000   |
| 〃                                      | 1         | -1     |
+-----------------------------------------+-----------+--------+
[2026-12-03 08:13:30,200] [1] [INFO] Restoring state from changelog topics...
[2026-12-03 08:13:32,700] [1] [INFO] Done reading from changelog topics
"""


def test_sizes_take_k_and_m_suffixes() -> None:
    assert parse_sizes("50k, 250k,1M,1200,2.5m") == [50_000, 250_000, 1_000_000, 1_200, 2_500_000]


def test_recovery_tables_and_time_are_read_from_the_log() -> None:
    assert worker_log.changelog_reads(LOG) == {
        ("app-attribution-changelog", 0): (-1, -1),
        ("app-engine-state-changelog", 0): (4000, 5000),
        ("app-engine-state-changelog", 1): (-1, 4990),
    }
    assert worker_log.recovery_seconds(LOG) == pytest.approx(2.5)
    assert worker_log.recovery_seconds(LOG.split("Done")[0]) is None


def test_every_user_gets_the_same_number_of_events() -> None:
    users = Counter(e.user_id for e in workload.records(3_000, 1_000, every_user=True))
    assert len(users) == 1_000 and set(users.values()) == {3}
    times = [e.event_time_ms for e in workload.records(3_000, 1_000, every_user=True)]
    assert times == sorted(times)


@pytest.mark.parametrize(("count", "span_ms"), [(3_000, 600_000), (60_000, 600_000), (8_000, 1_000)])
def test_a_span_spreads_any_number_of_events_over_the_same_event_time(count: int, span_ms: int) -> None:
    # (8,000 events in 1 s: more events than milliseconds, as 4M users' 8M events in the scale bench's span)
    times = [e.event_time_ms for e in workload.records(count, 1_000, every_user=True, span_ms=span_ms)]
    assert times == sorted(times)
    assert 0.9 * span_ms <= times[-1] - times[0] <= 1.1 * span_ms


def test_probe_users_cover_every_partition() -> None:
    assert sorted(probe_users(4, 1_000)) == [0, 1, 2, 3]


def run_of(users: int, **phases: Phase) -> SizeRun:
    run = SizeRun(users, 2 * users)
    run.phases.update(phases)
    return run


def test_the_section_says_which_phase_did_not_finish_and_replaces_itself(tmp_path: Path) -> None:
    done = Phase(10, {"events_per_s": 6_000.0, "peak_rss_mib": 300.0, "decisions_per_1k_events": 12.25})
    warm = Phase(20, {"ready_s": 8.0, "processing_s": 10.0, "changelog_read": 50.0, "changelog_records": 50.0,
                      "longest_health_s": 1.5})  # fmt: skip
    late = Phase(60, {"processed": 1_208_805.0, "peak_rss_mib": 2_010.0}, "did not finish within 1 min (processing)")
    section = scale_report.section(
        [run_of(50_000, process=done, warm=warm), run_of(10**6, process=late)], 4, 1, 33, "cmd"
    )
    assert "| 50,000 | 100,000 | 6,000 | 12.2 | 300 MiB | 8.0 s | 10.0 s | 50 of 50 | 1.5 s | - |" in section
    assert "| 2,000,000 | did not finish (1,208,805 processed) | - | did not finish (2,010 MiB) | - |" in section
    assert "- 1,000,000 users, process: did not finish within 1 min" in section
    assert "over the same 33 minutes of event time" in section

    bench = tmp_path / "BENCHMARKS.md"
    notes = scale_report.NOTES.read_text().strip().splitlines()[0]
    bench.write_text("# Benchmarks\n\n| table |\n\n" + notes + "\nthe notes\n")
    scale_report.splice(bench, section)
    scale_report.splice(bench, section.replace("6,000", "7,000"))
    text = bench.read_text()
    assert text.count(scale_report.BEGIN) == 1 and "7,000" in text and "6,000" not in text
    assert text.index(scale_report.END) < text.index(notes) and text.startswith("# Benchmarks")


def test_comparisons_state_the_ratio_and_the_target() -> None:
    results = [
        Figure("raw confluent-kafka consumer + decode", "limit", "events/s", [40_000]),
        Figure(comparisons.QUIX_STATEFUL + " (...)", "quix", "events/s", [10_000, 12_000, 8_000]),
        Figure("Nudge worker (full ...)", "nudge", "events/s", [12_000]),
    ]
    assert comparisons.lines(results)[2:] == [
        "- Full Nudge worker vs Quix Streams stateful: 1.20x (target >= 2x: not met).",
        "- Full Nudge worker vs raw confluent-kafka + decode: 30% (target >= 25%: met).",
    ]


def test_an_ab_variant_names_its_tree_and_settings(tmp_path: Path) -> None:
    from streams.bench.ab import parse_variant

    variant = parse_variant(f"longer={tmp_path};NUDGE_COMMIT_INTERVAL_MS=3000")
    assert variant.name == "longer" and variant.env["PYTHONPATH"] == str(tmp_path)
    assert variant.env["NUDGE_COMMIT_INTERVAL_MS"] == "3000" and variant.env["NUDGE_STORE"] == "rocksdb://"
    for bad in ("no-tree", "x=.;NOVALUE"):
        with pytest.raises(ValueError, match=r"variant|SETTING"):
            parse_variant(bad)


def test_a_short_size_reports_the_median_of_its_process_runs_and_lists_them() -> None:
    def processed(rate: float, error: str = "") -> SizeRun:
        return run_of(50_000, process=Phase(5, {"events_per_s": rate, "peak_rss_mib": 300.0}, error))

    run = with_rate_runs(processed(30_000.0), [processed(20_000.0), processed(22_000.0), processed(1.0, "failed")])
    assert run.phases["process"].figures["events_per_s"] == 22_000.0
    assert run.rate_runs == [20_000.0, 22_000.0, 30_000.0]
    note = scale_report.rate_runs_note([run, run_of(1_000_000)])
    assert "50,000 users 20,000 / 22,000 / 30,000" in note[0] and "1,000,000" not in note[0]
    alone = with_rate_runs(processed(30_000.0), [])
    assert alone.rate_runs == [] and alone.phases["process"].figures["events_per_s"] == 30_000.0
    assert scale_report.rate_runs_note([alone]) == []
