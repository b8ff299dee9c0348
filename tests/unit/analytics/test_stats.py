"""Wilson and Newcombe intervals: known values and coverage on simulated binomial data."""

from __future__ import annotations

import random

import pytest

from streams.analytics.stats import newcombe_diff, rate, wilson


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),  # Wilson's classic: never a zero-width interval at 0
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (81, 263, 0.2553, 0.3662),
    ],
)
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    lo, hi = wilson(k, n)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)


def test_newcombe_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, table II example (56/70 vs 48/80): 0.0524 to 0.3339
    diff, lo, hi = newcombe_diff(56, 70, 48, 80)  # type: ignore[misc]
    assert diff == pytest.approx(0.2)
    assert lo == pytest.approx(0.0524, abs=1e-4)
    assert hi == pytest.approx(0.3339, abs=1e-4)


@pytest.mark.parametrize(("k1", "n1", "k2", "n2"), [(0, 5, 0, 5), (3, 3, 0, 7), (1, 1000, 999, 1000)])
def test_newcombe_stays_inside_the_possible_range(k1: int, n1: int, k2: int, n2: int) -> None:
    diff, lo, hi = newcombe_diff(k1, n1, k2, n2)  # type: ignore[misc]
    assert -1.0 <= lo <= diff <= hi <= 1.0


def test_no_trials_gives_no_interval() -> None:
    assert newcombe_diff(1, 10, 0, 0) is None
    assert rate(3, 0) is None
    assert wilson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("p1", "n1", "p2", "n2"), [(0.30, 400, 0.20, 200), (0.08, 300, 0.05, 300), (0.5, 60, 0.5, 40)])
def test_interval_covers_the_true_difference_about_95_percent(p1: float, n1: int, p2: float, n2: int) -> None:
    rng = random.Random(20240601)
    trials = 1000
    covered = 0
    for _ in range(trials):
        k1 = sum(rng.random() < p1 for _ in range(n1))
        k2 = sum(rng.random() < p2 for _ in range(n2))
        _, lo, hi = newcombe_diff(k1, n1, k2, n2)  # type: ignore[misc]
        covered += lo <= p1 - p2 <= hi
    # 1000 runs: the binomial sd of the coverage is ~0.7 points, so 93-97.5% holds for a correct interval
    assert 0.93 <= covered / trials <= 0.975
