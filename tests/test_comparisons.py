"""Paired comparisons of aggregates (sb3_distill.report.comparisons): the verdicts follow from the scores."""

import numpy as np
import pytest

from sb3_distill.report.comparisons import FAILS, HOLDS, NOT_SEPARABLE, paired_ratio
from sb3_distill.report.statistics import geometric_iqm, sample_geometric_iqm, stratified_bootstrap_ci

REPS = 5_000


def spread_scores(seed: int = 0) -> np.ndarray:
    """Fractions [seeds, envs] whose seeds differ far more than two methods on one seed will."""
    return np.random.default_rng(seed).uniform(0.5, 1.5, size=(3, 2))


def test_a_uniform_lead_holds_although_the_separate_intervals_overlap():
    b = spread_scores()
    a = 1.05 * b  # ahead by 5% on every run
    ratio = paired_ratio(a, b, reps=REPS)
    assert ratio.value == pytest.approx(1.05)
    assert ratio.interval == pytest.approx((1.05, 1.05))
    assert ratio.verdict() == HOLDS
    a_low, a_high = stratified_bootstrap_ci(a, sample_geometric_iqm, reps=REPS)
    b_low, b_high = stratified_bootstrap_ci(b, sample_geometric_iqm, reps=REPS)
    assert a_low < b_high and b_low < a_high  # unpaired, the two cells could not be told apart


def test_a_uniform_deficit_does_not_hold_and_a_tie_is_not_separable():
    b = spread_scores(1)
    assert paired_ratio(0.8 * b, b, reps=REPS).verdict() == FAILS
    tie = paired_ratio(b, b, reps=REPS)
    assert tie.value == pytest.approx(1.0) and tie.interval == pytest.approx((1.0, 1.0))
    assert tie.verdict() == NOT_SEPARABLE


def test_a_lead_on_some_seeds_only_is_not_separable():
    b = np.ones((3, 2))
    a = np.array([[1.3, 1.3], [1.0, 1.0], [0.8, 0.8]])  # better, equal, worse: the sign depends on the seed
    ratio = paired_ratio(a, b, reps=REPS)
    assert ratio.value == pytest.approx(geometric_iqm(a))
    low, high = ratio.interval
    assert low < 1 < high
    assert ratio.verdict() == NOT_SEPARABLE


def test_against_a_constant():
    a = np.array([[1.2, 1.1], [1.15, 1.3], [1.25, 1.2]])
    ratio = paired_ratio(a, np.ones_like(a), reps=REPS)
    assert ratio.interval[0] >= a.min() - 1e-12 and ratio.interval[1] <= a.max() + 1e-12
    assert ratio.verdict() == HOLDS


def test_two_seeds_give_no_interval():
    b = spread_scores()[:2]
    ratio = paired_ratio(2 * b, b, reps=REPS)
    assert ratio.interval is None and ratio.verdict() == NOT_SEPARABLE
    assert ratio.text() == "2.000"


def test_unpaired_shapes_are_refused():
    with pytest.raises(ValueError, match=r"one shape, got \(3, 2\) and \(2, 2\)"):
        paired_ratio(np.ones((3, 2)), np.ones((2, 2)))
