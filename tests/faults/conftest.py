"""Fault-suite fixtures: a private broker + Redis, the seeded input, the clean run, and the fault table."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.harness import Run, RunResult, seeded_events
from tests.faults.stack import PrivateStack

SEED = int(os.environ.get("NUDGE_FAULTS_SEED", "20261128"))
USERS = int(os.environ.get("NUDGE_FAULTS_USERS", "300"))


@dataclass
class Row:
    fault: str
    lost: int
    duplicated: int
    decisions_equal: bool
    restarts: int
    seconds: float
    sends: int = 0


TABLE: list[Row] = []


@dataclass
class OutputRow:
    """Records on one output topic after a fault, against the distinct ids among them."""

    fault: str
    topic: str
    records: int
    distinct: int

    @property
    def duplicates(self) -> int:
        return self.records - self.distinct


OUTPUTS: list[OutputRow] = []
HERE = Path(__file__).resolve().parent


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "faults: fault injection with real processes (make test-faults)")


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    # Minutes long: only when asked for by path (make test-faults) or NUDGE_FAULTS=1, not in `pytest tests`.
    asked = any(str(Path(a.split("::")[0]).resolve()).startswith(str(HERE)) for a in config.args)
    if collection_path.parent == HERE and collection_path.name.startswith("test_"):
        return None if asked or os.environ.get("NUDGE_FAULTS") == "1" else True
    return None


@pytest.fixture(scope="session")
def private_stack(tmp_path_factory) -> Iterator[PrivateStack]:
    stack = PrivateStack(tmp_path_factory.mktemp("stack"))
    try:
        yield stack.start()
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def seeded_input() -> list:
    return seeded_events(SEED, USERS, int(time.time() * 1000))


def start_pipeline(run: Run, workers: int = 1) -> None:
    """fcm-local, one delivery worker, the devices, then the stream worker(s) and the feeder."""
    run.start_fcm()
    run.add_deliverer()
    run.publish_tokens()
    for _ in range(workers):
        run.add_worker()
    run.feed()


def queued_sends_done(decided: set, sends) -> bool:
    """Every queued job reached both of its user's devices."""
    queued = {job for _, job, outcome in decided if outcome == "queued"}
    return bool(queued) and len(sends) >= 2 * len(queued)


@pytest.fixture(scope="session")
def clean(private_stack, seeded_input, tmp_path_factory) -> RunResult:
    """The same input with no fault: the reference every faulty run is compared with."""
    run = Run(private_stack, f"clean{SEED}", tmp_path_factory.mktemp("clean"), seeded_input)
    try:
        start_pipeline(run)
        outcome = run.wait(queued_sends_done, timeout=180, settle=6)
    finally:
        codes = run.close()
    assert queued_sends_done(outcome.decisions, outcome.sends), run.logs()
    assert set(outcome.sends.values()) == {1}, "the clean run itself sent something twice"
    assert outcome.restarts == 0 and set(codes.values()) == {0}, (codes, run.logs())
    TABLE.append(Row("none (clean run)", 0, 0, True, 0, outcome.seconds, sum(outcome.sends.values())))
    return outcome


def compare(name: str, clean: RunResult, faulty: RunResult) -> Row:
    """Lost = a (job, device) the clean run sent that this run did not; duplicated = accepted more than once."""
    lost = len(set(clean.sends) - set(faulty.sends))
    duplicated = sum(n - 1 for n in faulty.sends.values() if n > 1) + len(set(faulty.sends) - set(clean.sends))
    equal = faulty.decisions == clean.decisions
    row = Row(name, lost, duplicated, equal, faulty.restarts, faulty.seconds, sum(faulty.sends.values()))
    TABLE.append(row)
    return row


def pytest_terminal_summary(terminalreporter) -> None:
    if OUTPUTS:
        terminalreporter.section("output topics")
        terminalreporter.write_line(f"{'fault':<50} {'topic':<24} {'records':>8} {'distinct':>9} {'duplicates':>11}")
        for o in OUTPUTS:
            terminalreporter.write_line(
                f"{o.fault:<50} {o.topic:<24} {o.records:>8} {o.distinct:>9} {o.duplicates:>11}"
            )
        terminalreporter.write_line("distinct = distinct job_id / decision_id; every record read from offset 0")
    if not TABLE:
        return
    tr = terminalreporter
    tr.section("fault table")
    tr.write_line(
        f"{'fault':<50} {'lost':>5} {'dup':>5} {'decisions equal':>16} {'restarts':>9} {'seconds':>8} {'sends':>6}"
    )
    for r in TABLE:
        eq = "yes" if r.decisions_equal else "NO"
        tr.write_line(
            f"{r.fault:<50} {r.lost:>5} {r.duplicated:>5} {eq:>16} {r.restarts:>9} {r.seconds:>8.1f} {r.sends:>6}"
        )
    tr.write_line(
        f"seed {SEED}, {USERS} users; lost/dup per (job, device) accepted by the FCM endpoint; restarts = deaths"
    )
    tr.write_line("the supervisor restarted; decisions compared as sets of (decision_id, job_id, outcome)")


def done_like(clean: RunResult):
    def done(decided: set, sends) -> bool:
        return decided >= clean.decisions and set(sends) >= set(clean.sends)

    return done


@pytest.fixture
def run_factory(private_stack, seeded_input, tmp_path: Path):
    runs: list[Run] = []

    def make(name: str) -> Run:
        run = Run(private_stack, f"{name}{time.monotonic_ns() % 10**8}", tmp_path / name, seeded_input)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.close()
