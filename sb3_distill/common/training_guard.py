"""Stop a run at the first bad update, before the optimizer spreads it into the weights.

An update is bad when its loss is not finite (a NaN teacher label, an overflowing ratio) or when the
distillation term explodes past a limit. The error names the update, every loss term and its value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch as th

#: Default limit of the distillation term (mean divergence per state; a KL in nats). A student that has
#: not collapsed is orders of magnitude below it: a discrete KL is at most -log of the smallest student
#: probability, and a Gaussian one grows with the squared mean gap in units of the student's std.
DEFAULT_MAX_DIVERGENCE = 1e4


class TrainingDiverged(RuntimeError):
    """An update had a non-finite loss or an exploding distillation term; the weights were not stepped with it."""


def check_max_divergence(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
        raise ValueError(f"max_divergence must be a number > 0 or None (no limit), got {value!r}.")
    return float(value)


def check_update(
    update: int,
    timesteps: int,
    loss: th.Tensor,
    distillation_loss: th.Tensor,
    max_divergence: float | None,
    terms: dict[str, th.Tensor | float],
) -> None:
    """Raise :class:`TrainingDiverged` if ``loss`` is not finite or ``distillation_loss`` exceeds ``max_divergence``."""
    loss_value = loss.item()  # two scalar reads cost less than combining the checks in tensors first
    if math.isfinite(loss_value) and (max_divergence is None or distillation_loss.item() <= max_divergence):
        return
    if not math.isfinite(loss_value):
        reason = "the loss is not finite"
    else:
        reason = f"the distillation term {distillation_loss.item():.4g} exceeds max_divergence={max_divergence:g}"
    values = ", ".join(f"{name}={_value(term):.6g}" for name, term in terms.items())
    raise TrainingDiverged(
        f"Update {update} (at {timesteps} timesteps) diverged: {reason}. Loss terms: {values}. The weights were not "
        "updated with it. Check the teacher's outputs for NaN, lower the learning rate or λ, or raise max_divergence."
    )


def non_finite_parameters(parameters: Iterable[tuple[str, th.Tensor]]) -> list[str]:
    """Names of the tensors holding a NaN or an infinity."""
    return [name for name, tensor in parameters if not bool(th.isfinite(tensor).all())]


def _value(term: th.Tensor | float) -> float:
    return term.item() if isinstance(term, th.Tensor) else float(term)
