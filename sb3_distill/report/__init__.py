"""Reports in the paper's format: aggregate statistics, tables and figures of a grid's runs."""

from sb3_distill.report.statistics import (
    DEFAULT_REPS,
    bootstrap_replicates,
    geometric_iqm,
    iqm,
    sample_geometric_iqm,
    sample_iqm,
    sample_mean,
    stratified_bootstrap_ci,
)

__all__ = [
    "DEFAULT_REPS",
    "bootstrap_replicates",
    "geometric_iqm",
    "iqm",
    "sample_geometric_iqm",
    "sample_iqm",
    "sample_mean",
    "stratified_bootstrap_ci",
]
