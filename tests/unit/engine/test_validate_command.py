"""`nudge validate FILE` on the shipped catalogue and on a broken one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
NUDGE = Path(sys.executable).parent / "nudge"


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(NUDGE), "validate", str(path)], capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_shipped_file_is_valid() -> None:
    result = validate(ROOT / "streams" / "triggers.yaml")
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_broken_file_lists_every_error(tmp_path: Path) -> None:
    bad = tmp_path / "triggers.yaml"
    bad.write_text(
        "triggers:\n"
        "  - {id: ok, kind: event, on: view}\n"
        "  - {id: cart, kind: absence, on: cart, stop: purchase, within: 30m}\n"
        "  - {id: x, kind: absence, on: cart, stop: purchase, within: later}\n"
        "  - {id: y, kind: inactivity, stages: [7d, soon]}\n"
    )
    result = validate(bad)
    assert result.returncode != 0
    assert "triggers[2].within: expected a duration" in result.stderr
    assert "triggers[3].stages[1]: expected a duration" in result.stderr
