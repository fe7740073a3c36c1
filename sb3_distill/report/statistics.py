"""Aggregates over environments x seeds, as rliable computes them (Agarwal et al., 2021), without its dependencies.

Scores are arrays ``[runs, tasks]`` (seeds x environments). The interquartile mean (IQM) is the mean
of the middle 50% of all scores (``scipy.stats.trim_mean(..., 0.25)`` over the flattened array, as
``rliable.metrics.aggregate_iqm``). The paper aggregates fractions of the teacher's score with a
*geometric* IQM: the IQM of their logarithms, exponentiated. Confidence intervals are percentile
intervals of a stratified bootstrap, which resamples runs within each task (rliable's default).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import trim_mean

#: Fractions at or below zero have no logarithm; they enter the geometric IQM at this floor.
GEOMETRIC_FLOOR = 1e-3


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean over all entries."""
    return float(trim_mean(np.asarray(scores, dtype=float), proportiontocut=0.25, axis=None))


def geometric_iqm(fractions: np.ndarray) -> float:
    """``exp(IQM(log x))``; entries below ``GEOMETRIC_FLOOR`` are raised to it."""
    values = np.maximum(np.asarray(fractions, dtype=float), GEOMETRIC_FLOOR)
    return float(np.exp(iqm(np.log(values))))


def stratified_bootstrap_ci(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], float],
    reps: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile confidence interval of ``statistic`` under resampling of runs within each task.

    :param scores: ``[runs, tasks]``
    :param statistic: maps a ``[runs, tasks]`` array to a number (``iqm``, ``geometric_iqm``, ...)
    :param reps: bootstrap replications
    :param confidence: size of the interval
    :param seed: seed of the resampling
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty [runs, tasks] array, got shape {scores.shape}.")
    rng = np.random.default_rng(seed)
    runs, tasks = scores.shape
    columns = np.arange(tasks)
    estimates = np.empty(reps)
    for rep in range(reps):
        rows = rng.integers(0, runs, size=(runs, tasks))  # each task's runs resampled independently
        estimates[rep] = statistic(scores[rows, columns])
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)
