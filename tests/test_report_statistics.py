"""Aggregate statistics against hand-computed values (and rliable, where it is installed)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from sb3_distill.cli.main import build_parser
from sb3_distill.report import (
    DEFAULT_REPS,
    geometric_iqm,
    iqm,
    sample_geometric_iqm,
    sample_iqm,
    sample_mean,
    statistics,
    stratified_bootstrap_ci,
)
from sb3_distill.report.build import build_report
from sb3_distill.report.curves import checkpoint_table, curve_band
from sb3_distill.report.tables import table_1


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
    assert stratified_bootstrap_ci(constant, sample_iqm, reps=200) == pytest.approx((0.8, 0.8))
    rng = np.random.default_rng(1)
    scores = rng.normal(1.0, 0.1, size=(5, 4))
    low, high = stratified_bootstrap_ci(scores, sample_iqm, reps=2000)
    assert low < iqm(scores) < high
    assert high - low < 0.2
    # runs are resampled within tasks: a task whose runs agree keeps its value in every replicate
    spread = np.column_stack([np.full(5, 10.0), np.full(5, 10.0), np.full(5, 10.0), rng.normal(0, 1, 5)])
    low, high = stratified_bootstrap_ci(spread, lambda s: s[:, :, :3].mean(axis=(1, 2)), reps=100)
    assert low == high == 10.0
    with pytest.raises(ValueError, match=r"\[runs, tasks\]"):
        stratified_bootstrap_ci(np.ones(3), sample_iqm)
    with pytest.raises(ValueError, match=r"statistic must reduce \[batch, runs, tasks, \.\.\.\] samples to \[batch, \.\.\.\]"):
        stratified_bootstrap_ci(spread, iqm)  # a statistic of one sample, not of a batch


def loop_bootstrap_ci(scores, statistic, reps, confidence=0.95, seed=0):
    """The bootstrap as it was written before it was vectorised: one resample at a time."""
    rng = np.random.default_rng(seed)
    runs, tasks = scores.shape
    columns = np.arange(tasks)
    estimates = np.empty(reps)
    for rep in range(reps):
        rows = rng.integers(0, runs, size=(runs, tasks))
        estimates[rep] = statistic(scores[rows, columns])
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


@pytest.mark.parametrize("batch_entries", [statistics.BATCH_ENTRIES, 60])  # one batch; many, the last one short
@pytest.mark.parametrize(
    "vectorised, loop",
    [(sample_iqm, iqm), (sample_geometric_iqm, geometric_iqm), (sample_mean, lambda s: float(np.mean(s)))],
)
def test_vectorised_bootstrap_equals_the_loop(monkeypatch, batch_entries, vectorised, loop):
    """Same seed, same resamples, same statistic: the batched bootstrap gives the loop's interval."""
    monkeypatch.setattr(statistics, "BATCH_ENTRIES", batch_entries)
    scores = np.random.default_rng(2).lognormal(0, 0.5, size=(5, 3))
    for seed, confidence in ((0, 0.95), (7, 0.9)):
        expected = loop_bootstrap_ci(scores, loop, 401, confidence, seed)
        found = stratified_bootstrap_ci(scores, vectorised, reps=401, confidence=confidence, seed=seed)
        np.testing.assert_allclose(found, expected, rtol=1e-12)
        assert found[0] < found[1]
    # the band of a curve: each point's replicates are those of its own column's bootstrap
    curves = np.random.default_rng(3).normal(1, 0.2, size=(4, 2, 5))  # [seeds, envs, points]
    band = statistics.percentile_interval(statistics.bootstrap_replicates(curves, sample_iqm, 201, seed=1))
    for point in range(5):
        np.testing.assert_allclose([band[0][point], band[1][point]], loop_bootstrap_ci(curves[..., point], iqm, 201, seed=1))


def test_rliable_default_of_50000_replications():
    assert DEFAULT_REPS == 50_000
    for function in (stratified_bootstrap_ci, build_report, table_1, checkpoint_table, curve_band):
        assert inspect.signature(function).parameters["reps"].default == DEFAULT_REPS, function.__name__
    assert build_parser().parse_args(["report", "somewhere"]).reps == DEFAULT_REPS


def test_against_rliable():
    try:
        from rliable import library as rliable
        from rliable import metrics
    except Exception as error:  # not installed, or rliable 1.2's import of arch 7 fails with pandas 3
        pytest.skip(f"rliable cannot be imported ({type(error).__name__}: {error}); pip install -e '.[tests]'")

    rng = np.random.default_rng(0)
    scores = rng.lognormal(0, 0.3, size=(5, 4))
    assert iqm(scores) == pytest.approx(metrics.aggregate_iqm(scores))
    _, intervals = rliable.get_interval_estimates({"x": scores}, lambda s: np.array([metrics.aggregate_iqm(s)]), reps=4000)
    low, high = stratified_bootstrap_ci(scores, sample_iqm, reps=4000)
    assert low == pytest.approx(intervals["x"][0][0], abs=0.03)
    assert high == pytest.approx(intervals["x"][1][0], abs=0.03)


@pytest.mark.parametrize("runs, tasks", [(1, 1), (2, 1), (3, 1), (1, 4), (5, 1), (3, 3), (4, 2)])
def test_sample_iqm_is_scipys_trim_mean_along_runs_and_tasks(runs, tasks):
    from scipy.stats import trim_mean

    samples = np.random.default_rng(runs * 10 + tasks).normal(size=(6, runs, tasks, 3))  # [batch, runs, tasks, points]
    expected = trim_mean(samples.reshape(6, runs * tasks, 3), 0.25, axis=1)
    np.testing.assert_allclose(sample_iqm(samples), expected, rtol=1e-12)
    np.testing.assert_allclose(sample_iqm(samples[..., 0]), [iqm(sample[..., 0]) for sample in samples], rtol=1e-12)
