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


def test_copy_a_person_should_not_see_fails_validation_and_names_the_template(tmp_path: Path) -> None:
    decisions = (ROOT / "streams" / "templates" / "decisions.yaml").read_text()
    broken = decisions.replace(
        'body: "Thanks for being a loyal customer{% if first_name %}',
        'body: "{{ item.titel }} and {{ item.price }} for you{% if first_name %}',
    )
    assert broken != decisions
    path = tmp_path / "decisions.yaml"
    path.write_text(broken)
    result = subprocess.run([str(NUDGE), "validate", str(ROOT / "streams" / "triggers.yaml"), "--decisions", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    assert result.returncode == 1
    assert "templates.tenth_purchase.default.en [rich, named]: body: placeholder or empty value 'None'" in result.stderr
    assert "amount '89.99' without a currency" in result.stderr


def test_show_prints_every_sample_push(tmp_path: Path) -> None:
    result = subprocess.run([str(NUDGE), "validate", str(ROOT / "streams" / "triggers.yaml"), "--show"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "cart_abandoned/default/de (rich, named): Alex, dein Warenkorb wartet 🛒 | 3 Artikel für" in result.stdout
