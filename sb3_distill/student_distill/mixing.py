"""DAgger's β: the probability that an environment executes the teacher's action instead of the student's.

Student-distill labels the states the student visits (β = 0); teacher-distill, those the teacher visits
(β = 1). DAgger (Ross et al., 2011) mixes the two, usually from β = 1 down to 0, so that early rollouts
follow the teacher while the student is still poor, and later ones the student's own mistakes. β is a
number in [0, 1] or a schedule of the elapsed timesteps, as λ is (:mod:`sb3_distill.schedules`):
``schedules.linear(1.0, 0.0, 100_000)``, or from the command line ``lin:1:0:1e5`` / ``exp:START:END:STEPS``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from sb3_distill import schedules

__all__ = ["TeacherActionProb", "check_teacher_action_prob", "teacher_action_prob_at"]

TeacherActionProb = float | Callable[[int], float]


def check_teacher_action_prob(value: Any) -> TeacherActionProb:
    """``value`` as a β: a number in [0, 1], a schedule whose start and end are in [0, 1], its text form
    (``0.5``, ``lin:1:0:1e5``, ``exp:START:END:STEPS``), or any callable of the timesteps (checked at each use).

    :raises ValueError: a number or schedule outside [0, 1], or text that is none of the forms
    :raises TypeError: neither a number, text nor a callable
    """
    if isinstance(value, str):
        if value.partition(":")[0] == "ratio":
            raise ValueError("teacher_action_prob takes a number or a lin:/exp: schedule; 'ratio' is a schedule of λ.")
        value = schedules.parse(value)
    if isinstance(value, (schedules.Linear, schedules.Exponential)):
        for end in (value.start, value.end):
            _check_probability(end, f"{value!r}")
        return value
    if callable(value):
        return value
    return _check_probability(value, repr(value))


def teacher_action_prob_at(value: TeacherActionProb, timesteps: int) -> float:
    """β after ``timesteps`` elapsed timesteps, checked to be a probability."""
    return _check_probability(value(timesteps), f"the schedule {value!r}") if callable(value) else value


def _check_probability(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"teacher_action_prob must be a number in [0, 1] or a schedule, got {what}.")
    probability = float(value)
    if not (math.isfinite(probability) and 0.0 <= probability <= 1.0):
        raise ValueError(f"teacher_action_prob is a probability: expected a number in [0, 1], got {value!r} from {what}.")
    return probability
