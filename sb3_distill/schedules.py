"""Schedules of the distillation weight λ, for ``set_teacher(distill_lambda=...)``.

Besides a number or any callable of the elapsed timesteps:

- ``linear(start, end, steps)``: from ``start`` to ``end`` over ``steps`` timesteps, then ``end``;
- ``exponential(start, end, steps)``: geometric interpolation from ``start`` to ``end``, then ``end``;
- ``performance_ratio(teacher_return)``: QDagger's λ = max(1 − student_return / teacher_return, 0), with
  the student's return the mean of its recent training episodes (Agarwal et al., 2022). It is meant for
  student-collected rollouts and positive returns; before any episode ends, λ = 1.

From the command line (``--lambda``): ``1.0``, ``lin:3.0:0.001:1e6``, ``exp:3.0:0.001:1e6``, ``ratio``.

:func:`check_distill_lambda` checks a λ given as an object, :func:`parse` one given as text, and
:func:`value_at` the value a schedule returns.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

DistillLambda = float | Callable[[int], float]


class Linear:
    """λ goes linearly from ``start`` to ``end`` over ``steps`` timesteps, then stays at ``end``."""

    def __init__(self, start: float, end: float, steps: float):
        _check_values(start, end, steps)
        self.start, self.end, self.steps = float(start), float(end), float(steps)

    def __call__(self, timesteps: int) -> float:
        fraction = min(max(timesteps / self.steps, 0.0), 1.0)
        return self.start + fraction * (self.end - self.start)

    def __repr__(self) -> str:
        return f"linear({self.start}, {self.end}, {self.steps:g})"


class Exponential:
    """λ goes geometrically from ``start`` to ``end`` (both > 0) over ``steps`` timesteps, then stays at ``end``."""

    def __init__(self, start: float, end: float, steps: float):
        _check_values(start, end, steps)
        if start <= 0 or end <= 0:
            raise ValueError(f"An exponential schedule needs start > 0 and end > 0, got start={start}, end={end}.")
        self.start, self.end, self.steps = float(start), float(end), float(steps)

    def __call__(self, timesteps: int) -> float:
        fraction = min(max(timesteps / self.steps, 0.0), 1.0)
        return self.start * (self.end / self.start) ** fraction

    def __repr__(self) -> str:
        return f"exponential({self.start}, {self.end}, {self.steps:g})"


class PerformanceRatio:
    """QDagger's λ = max(1 − student_return / teacher_return, 0), from the student's recent episodes.

    :param teacher_return: the teacher's mean return (> 0), e.g. from evaluating it before distillation
    """

    def __init__(self, teacher_return: float):
        if not (isinstance(teacher_return, (int, float)) and math.isfinite(teacher_return) and teacher_return > 0):
            raise ValueError(f"The performance-ratio schedule needs a teacher return > 0, got {teacher_return!r}.")
        self.teacher_return = float(teacher_return)
        self.model: Any = None

    def bind(self, model: Any) -> None:
        """Read episode returns from ``model.ep_info_buffer`` (called by ``set_teacher``)."""
        self.model = model

    def __call__(self, timesteps: int) -> float:
        episodes = getattr(self.model, "ep_info_buffer", None)
        if not episodes:
            return 1.0
        student_return = sum(episode["r"] for episode in episodes) / len(episodes)
        return max(1.0 - student_return / self.teacher_return, 0.0)

    def __repr__(self) -> str:
        return f"performance_ratio({self.teacher_return})"


def check_distill_lambda(value: Any) -> DistillLambda:
    """``value`` as a λ: a callable of the elapsed timesteps is kept as it is, a number must be finite and >= 0.

    :param value: the λ to check
    :return: the callable, or the number as a ``float``
    :raises TypeError: for something that is neither a number nor a callable
    :raises ValueError: for a negative or non-finite number
    """
    if callable(value):
        return value
    return _check_number(value)


def value_at(distill_lambda: DistillLambda, timesteps: int) -> float:
    """λ after ``timesteps`` elapsed timesteps: the number itself, or what the schedule returns, checked.

    :param distill_lambda: a λ that :func:`check_distill_lambda` accepted
    :param timesteps: the elapsed timesteps
    :raises TypeError: or ``ValueError`` for a schedule that returns anything but a finite number >= 0
    """
    if callable(distill_lambda):
        return _check_number(distill_lambda(timesteps))
    return distill_lambda


def _check_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"distill_lambda must be a non-negative number or a callable of the timestep, got {value!r}.")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"distill_lambda must be a finite number >= 0, got {value!r}.")
    return float(value)


def linear(start: float, end: float, steps: float) -> Linear:
    return Linear(start, end, steps)


def exponential(start: float, end: float, steps: float) -> Exponential:
    return Exponential(start, end, steps)


def performance_ratio(teacher_return: float) -> PerformanceRatio:
    return PerformanceRatio(teacher_return)


def _check_values(start: float, end: float, steps: float) -> None:
    for name, value in (("start", start), ("end", end)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ValueError(f"A λ schedule's {name} must be a finite number >= 0, got {value!r}.")
    if not (isinstance(steps, (int, float)) and math.isfinite(steps) and steps > 0):
        raise ValueError(f"A λ schedule's steps must be a number > 0, got {steps!r}.")


def parse(text: str, teacher_return: float | None = None) -> DistillLambda:
    """A λ from its command-line form: ``1.0``, ``lin:START:END:STEPS``, ``exp:START:END:STEPS`` or ``ratio``.

    :param text: the form
    :param teacher_return: the teacher's mean return, needed by ``ratio``
    """
    kind, _, rest = text.partition(":")
    try:
        if kind in ("lin", "exp"):
            start, end, steps = (float(part) for part in rest.split(":"))
            return (Linear if kind == "lin" else Exponential)(start, end, steps)
        if kind == "ratio" and not rest:
            if teacher_return is None:
                raise ValueError("the teacher's return is not known")
            return PerformanceRatio(teacher_return)
        value = float(text)
    except ValueError as error:
        raise ValueError(
            f"Cannot read λ {text!r} ({error}). Expected a number, lin:START:END:STEPS, exp:START:END:STEPS or ratio."
        ) from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"λ must be a finite number >= 0, got {text!r}.")
    return value


def to_text(distill_lambda: DistillLambda) -> str | None:
    """The command-line form of a λ (:func:`parse` reads it back), or ``None`` for an arbitrary callable.

    ``ratio`` needs the teacher's return again when it is read back: ``parse(text, teacher_return)``.
    """
    if isinstance(distill_lambda, (int, float)) and not isinstance(distill_lambda, bool):
        return repr(float(distill_lambda))
    if isinstance(distill_lambda, (Linear, Exponential)):
        kind = "lin" if isinstance(distill_lambda, Linear) else "exp"
        return f"{kind}:{distill_lambda.start!r}:{distill_lambda.end!r}:{distill_lambda.steps!r}"
    if isinstance(distill_lambda, PerformanceRatio):
        return "ratio"
    return None
