"""Paired comparisons of two aggregates, so that a claim such as "PPD >= student-distill" can fail.

Two Table 1 cells each with its own interval say little about their difference: the intervals of two
methods run on the same teachers overlap even where one method is ahead on every seed. Here both
methods' fractions are resampled together, run ``i`` of one with run ``i`` of the other (the same
teacher seed, as the grid pairs them), and the interval is that of the ratio of their geometric IQMs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sb3_distill.report.statistics import (
    DEFAULT_REPS,
    MIN_SEEDS_FOR_INTERVAL,
    bootstrap_replicates,
    geometric_iqm,
    percentile_interval,
    sample_geometric_iqm,
)

HOLDS = "holds"
FAILS = "does not hold"
NOT_SEPARABLE = "not separable"


@dataclass(frozen=True)
class Ratio:
    """``geometric IQM(a) / geometric IQM(b)`` with its 95% paired-bootstrap interval (``None`` with fewer
    than ``MIN_SEEDS_FOR_INTERVAL`` seeds)."""

    value: float
    interval: tuple[float, float] | None

    def verdict(self) -> str:
        """Whether ``a > b`` at 95%: ``holds`` (the interval lies above 1), ``does not hold`` (below 1), or
        ``not separable`` (it contains 1, or there is no interval)."""
        if self.interval is None:
            return NOT_SEPARABLE
        low, high = self.interval
        return HOLDS if low > 1 else FAILS if high < 1 else NOT_SEPARABLE

    def text(self) -> str:
        interval = "" if self.interval is None else f" [{self.interval[0]:.3f}, {self.interval[1]:.3f}]"
        return f"{self.value:.3f}{interval}"


def paired_ratio(a: np.ndarray, b: np.ndarray, reps: int = DEFAULT_REPS, seed: int = 0) -> Ratio:
    """The ratio of the geometric IQMs of ``a`` and ``b``, with a stratified bootstrap that resamples the
    runs of each task once for both.

    :param a: fractions ``[runs, tasks]`` (seeds x environments)
    :param b: fractions ``[runs, tasks]``, run ``i`` of task ``j`` paired with ``a[i, j]``
    :param reps: bootstrap replications
    :param seed: seed of the resampling
    :return: the ratio and its 95% percentile interval
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 2 or a.size == 0:
        raise ValueError(
            f"paired scores must be two non-empty [runs, tasks] arrays of one shape, got {a.shape} and {b.shape}."
        )
    value = geometric_iqm(a) / geometric_iqm(b)
    if a.shape[0] < MIN_SEEDS_FOR_INTERVAL:
        return Ratio(value, None)
    both = bootstrap_replicates(np.stack([a, b], axis=-1), sample_geometric_iqm, reps, seed)  # [reps, 2]
    low, high = percentile_interval(both[:, 0] / both[:, 1])
    return Ratio(value, (float(low), float(high)))
