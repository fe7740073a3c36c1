"""Aggregates over environments x seeds, as rliable computes them (Agarwal et al., 2021), without its dependencies.

Scores are arrays ``[runs, tasks]`` (seeds x environments). The interquartile mean (IQM) is the mean
of the middle 50% of all scores (``scipy.stats.trim_mean(..., 0.25)`` over the flattened array, as
``rliable.metrics.aggregate_iqm``). The paper aggregates fractions of the teacher's score with a
*geometric* IQM: the IQM of their logarithms, exponentiated. Confidence intervals are percentile
intervals of a stratified bootstrap, which resamples runs within each task, with rliable's default of
50,000 replications (``DEFAULT_REPS``).

Two limits of small grids, which the report states where they apply:

- with fewer than ``MIN_SCORES_FOR_IQM`` (4) scores, the 25% trim removes nothing: the "IQM" is the plain
  mean of the scores;
- with fewer than ``MIN_SEEDS_FOR_INTERVAL`` (3) runs per task, a bootstrap interval is only the range of
  the runs (of 2 runs, their minimum and maximum): the report gives none.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import trim_mean

#: Fractions at or below zero have no logarithm; they enter the geometric IQM at this floor.
GEOMETRIC_FLOOR = 1e-3
#: Bootstrap replications of every interval: rliable's default (``get_interval_estimates(reps=50000)``).
DEFAULT_REPS = 50_000
#: The IQM trims ``int(0.25 n)`` scores at each end: nothing below 4 scores, where it is a plain mean.
MIN_SCORES_FOR_IQM = 4
#: Intervals need at least this many runs (seeds) per task.
MIN_SEEDS_FOR_INTERVAL = 3
#: Resampled scores held in memory at once (float64): the bootstrap runs in batches of this many entries.
BATCH_ENTRIES = 1 << 22

#: A statistic of bootstrap samples: ``[batch, runs, tasks, ...]`` -> ``[batch, ...]`` (runs and tasks reduced).
SampleStatistic = Callable[[np.ndarray], np.ndarray]


def _runs_and_tasks_last(samples: np.ndarray) -> np.ndarray:
    """``[batch, runs, tasks, ...]`` -> ``[batch, ..., runs * tasks]``, contiguous."""
    samples = np.asarray(samples, dtype=float)
    flat = samples.reshape(samples.shape[0], samples.shape[1] * samples.shape[2], *samples.shape[3:])
    return np.ascontiguousarray(np.moveaxis(flat, 1, -1))


def sample_iqm(samples: np.ndarray) -> np.ndarray:
    """The IQM of each sample of ``[batch, runs, tasks, ...]``, over its runs and tasks: ``[batch, ...]``.

    As ``scipy.stats.trim_mean(x, 0.25)``: the mean of the scores left when ``int(0.25 n)`` of the ``n``
    scores are cut at each end; sorting the few scores of a sample is faster than trim_mean's partition.
    """
    flat = _runs_and_tasks_last(samples)
    n = flat.shape[-1]
    cut = int(0.25 * n)
    return np.sort(flat, axis=-1)[..., cut : n - cut].mean(axis=-1)


def sample_geometric_iqm(samples: np.ndarray) -> np.ndarray:
    """``exp(IQM(log x))`` of each sample of ``[batch, runs, tasks, ...]``; entries below ``GEOMETRIC_FLOOR``
    are raised to it."""
    return np.exp(sample_iqm(np.log(np.maximum(np.asarray(samples, dtype=float), GEOMETRIC_FLOOR))))


def sample_mean(samples: np.ndarray) -> np.ndarray:
    """The mean of each sample of ``[batch, runs, tasks, ...]`` over its runs and tasks: ``[batch, ...]``."""
    return _runs_and_tasks_last(samples).mean(axis=-1)


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean over all entries."""
    return float(trim_mean(np.asarray(scores, dtype=float), proportiontocut=0.25, axis=None))


def geometric_iqm(fractions: np.ndarray) -> float:
    """``exp(IQM(log x))``; entries below ``GEOMETRIC_FLOOR`` are raised to it."""
    values = np.maximum(np.asarray(fractions, dtype=float), GEOMETRIC_FLOOR)
    return float(np.exp(iqm(np.log(values))))


def bootstrap_replicates(
    scores: np.ndarray, statistic: SampleStatistic, reps: int = DEFAULT_REPS, seed: int = 0
) -> np.ndarray:
    """``statistic`` of ``reps`` stratified resamples of ``scores``: runs drawn with replacement within each task.

    The resamples are drawn in batches, as index arrays ``[batch, runs, tasks]``, and ``statistic`` reduces
    each batch along its runs and tasks axes at once. The indices are drawn in the order a loop of one
    resample at a time would draw them (``rng.integers(0, runs, (runs, tasks))`` per replication), so for a
    given seed the replicates are those of that loop.

    :param scores: ``[runs, tasks, ...]``: trailing axes (points of a curve) are kept, resampled with their run
    :param statistic: ``[batch, runs, tasks, ...]`` -> ``[batch, ...]``, e.g. :func:`sample_iqm`
    :param reps: bootstrap replications
    :param seed: seed of the resampling
    :return: ``[reps, ...]``
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim < 2 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty [runs, tasks] array, got shape {scores.shape}.")
    if reps < 1:
        raise ValueError(f"reps must be at least 1, got {reps}.")
    rng = np.random.default_rng(seed)
    runs, tasks = scores.shape[:2]
    columns = np.arange(tasks)
    batch = max(1, BATCH_ENTRIES // scores.size)
    estimates = np.empty((reps, *scores.shape[2:]))
    for start in range(0, reps, batch):
        size = min(batch, reps - start)
        rows = rng.integers(0, runs, size=(size, runs, tasks))  # each task's runs resampled independently
        values = np.asarray(statistic(scores[rows, columns]))
        if values.shape != (size, *scores.shape[2:]):
            raise ValueError(
                f"statistic must reduce [batch, runs, tasks, ...] samples to [batch, ...] (as sample_iqm does): "
                f"samples of shape {(size, *scores.shape)} gave shape {values.shape}."
            )
        estimates[start : start + size] = values
    return estimates


def percentile_interval(estimates: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The ``confidence`` percentile interval of bootstrap replicates ``[reps, ...]``, per trailing entry."""
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(estimates, [tail, 100 - tail], axis=0)
    return low, high


def stratified_bootstrap_ci(
    scores: np.ndarray,
    statistic: SampleStatistic,
    reps: int = DEFAULT_REPS,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile confidence interval of ``statistic`` under resampling of runs within each task.

    :param scores: ``[runs, tasks]``
    :param statistic: maps samples ``[batch, runs, tasks]`` to ``[batch]`` (:func:`sample_iqm`,
        :func:`sample_geometric_iqm`, :func:`sample_mean`, ...)
    :param reps: bootstrap replications (rliable's default, 50,000)
    :param confidence: size of the interval
    :param seed: seed of the resampling
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty [runs, tasks] array, got shape {scores.shape}.")
    low, high = percentile_interval(bootstrap_replicates(scores, statistic, reps, seed), confidence)
    return float(low), float(high)
