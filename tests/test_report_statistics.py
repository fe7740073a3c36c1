"""Aggregate statistics against hand-computed values (and rliable, where it is installed)."""

from __future__ import annotations

import numpy as np
import pytest

from sb3_distill.report import geometric_iqm, iqm, stratified_bootstrap_ci


def test_iqm_by_hand():
    # sorted: -50 1 2 3 4 5 6 100; the middle 50% is 2 3 4 5 -> 3.5
    assert iqm(np.array([[1, 100], [2, 6], [3, 5], [4, -50]])) == pytest.approx(3.5)


def test_geometric_iqm_by_hand():
    fractions = np.array([[0.5, 2.0], [1.0, 4.0], [0.25, 1.0], [8.0, 0.125]])
    # sorted logs2: -3 -2 -1 0 0 1 2 3; middle four: -1 0 0 1 -> mean 0 -> 2**0
    assert geometric_iqm(fractions) == pytest.approx(1.0)
    assert geometric_iqm(np.array([[0.9, 0.9], [0.9, 0.9]])) == pytest.approx(0.9)
    assert geometric_iqm(np.array([[-1.0, 1.0], [1.0, 1.0]])) == pytest.approx(1.0)  # a negative entry is trimmed


def test_bootstrap_interval():
    constant = np.full((5, 3), 0.8)
    assert stratified_bootstrap_ci(constant, iqm, reps=200) == pytest.approx((0.8, 0.8))
    rng = np.random.default_rng(1)
    scores = rng.normal(1.0, 0.1, size=(5, 4))
    low, high = stratified_bootstrap_ci(scores, iqm, reps=2000)
    assert low < iqm(scores) < high
    assert high - low < 0.2
    # runs are resampled within tasks: a task whose runs agree keeps its value in every replicate
    spread = np.column_stack([np.full(5, 10.0), np.full(5, 10.0), np.full(5, 10.0), rng.normal(0, 1, 5)])
    low, high = stratified_bootstrap_ci(spread, lambda s: float(s[:, :3].mean()), reps=100)
    assert low == high == 10.0
    with pytest.raises(ValueError, match=r"\[runs, tasks\]"):
        stratified_bootstrap_ci(np.ones(3), iqm)


def test_against_rliable():
    try:
        from rliable import library as rliable
        from rliable import metrics
    except Exception as error:  # not installed, or rliable 1.2's import of arch fails with recent pandas
        pytest.skip(f"rliable cannot be imported: {type(error).__name__}: {error}")

    rng = np.random.default_rng(0)
    scores = rng.lognormal(0, 0.3, size=(5, 4))
    assert iqm(scores) == pytest.approx(metrics.aggregate_iqm(scores))
    _, intervals = rliable.get_interval_estimates({"x": scores}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=4000)
    low, high = stratified_bootstrap_ci(scores, iqm, reps=4000)
    assert low == pytest.approx(intervals["x"][0][0], abs=0.03)
    assert high == pytest.approx(intervals["x"][1][0], abs=0.03)
