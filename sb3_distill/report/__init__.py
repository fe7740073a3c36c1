"""Reports in the paper's format: aggregate statistics now; tables and figures to follow."""

from sb3_distill.report.statistics import geometric_iqm, iqm, stratified_bootstrap_ci

__all__ = ["geometric_iqm", "iqm", "stratified_bootstrap_ci"]
