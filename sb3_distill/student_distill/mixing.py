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

import numpy as np

from sb3_distill import schedules
from sb3_distill.common.distillation_algorithm import DistillationAlgorithm
from sb3_distill.common.teacher_rollouts import LabelledBuffer

__all__ = ["TeacherActionMixing", "TeacherActionProb", "check_teacher_action_prob", "refuse_mixing", "teacher_action_prob_at"]

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


def refuse_mixing(teacher_action_prob: Any) -> None:
    """Teacher-distill's refusal of a β: its teacher acts at every step."""
    if teacher_action_prob not in (0, 0.0):
        raise ValueError(
            "teacher-distill executes the teacher's action at every step (DAgger's β = 1); teacher_action_prob "
            f"mixes student-distill's rollouts (StudentDistill), got {teacher_action_prob!r}."
        )


def _check_probability(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"teacher_action_prob must be a number in [0, 1] or a schedule, got {what}.")
    probability = float(value)
    if not (math.isfinite(probability) and 0.0 <= probability <= 1.0):
        raise ValueError(f"teacher_action_prob is a probability: expected a number in [0, 1], got {value!r} from {what}.")
    return probability


class TeacherActionMixing(DistillationAlgorithm):
    """What student-distill's feed-forward and recurrent students share to mix the teacher's actions in: β, its
    own random stream, the count of the teacher's steps, and labels made as the teacher acts."""

    teacher_action_prob: TeacherActionProb

    def _init_mixing(self, teacher_action_prob: TeacherActionProb | str, use_sde: bool, policy_kwargs: Any) -> None:
        """Record β; called by ``__init__`` before the model is built."""
        self.teacher_action_prob = check_teacher_action_prob(teacher_action_prob)
        if self._mixes() and use_sde and (policy_kwargs or {}).get("squash_output", False):
            raise ValueError(
                "teacher_action_prob with a squashed gSDE student: its entropy is estimated on the stored actions, "
                "which would be the teacher's where it acted; use an unsquashed policy, or teacher_action_prob=0."
            )
        self._executed_by_teacher = [0, 0]  # of the last rollout: steps where the teacher acted, steps

    def _excluded_save_params(self) -> list[str]:
        # β may be any callable, which a zip would pickle; like λ, it is given again to the constructor
        return [*super()._excluded_save_params(), "teacher_action_prob", "_mixing_rng", "_executed_by_teacher"]

    def _mixes(self) -> bool:
        """Whether the teacher may act: β is a schedule, or a number above 0."""
        return callable(self.teacher_action_prob) or self.teacher_action_prob > 0

    def current_teacher_action_prob(self) -> float:
        """β now, at ``num_timesteps``."""
        return teacher_action_prob_at(self.teacher_action_prob, self.num_timesteps)

    def _setup_model(self) -> None:
        super()._setup_model()
        # its own stream, so that mixing leaves the student's and the environments' random numbers as they were
        self._mixing_rng = np.random.default_rng(self.seed)

    def _start_rollout(self, n_envs: int) -> None:
        super()._start_rollout(n_envs)
        self._executed_by_teacher = [0, 0]
        if self._mixes():
            self._require_teacher().reset_noise(n_envs)

    def _mix(self, student_actions: np.ndarray, teacher_actions: np.ndarray) -> np.ndarray:
        """Each environment's action: the teacher's with probability β, else the student's."""
        by_teacher = self._mixing_rng.random(len(student_actions)) < self.current_teacher_action_prob()
        self._executed_by_teacher[0] += int(by_teacher.sum())
        self._executed_by_teacher[1] += len(by_teacher)
        return np.where(by_teacher.reshape(-1, *[1] * (student_actions.ndim - 1)), teacher_actions, student_actions)

    def _label_after_rollout(self, rollout_buffer: LabelledBuffer) -> None:
        if not self._mixes():  # else the teacher labelled each state as it acted
            super()._label_after_rollout(rollout_buffer)

    def _teacher_observation_kept(self) -> bool:
        return not self._mixes() and super()._teacher_observation_kept()

    def _record_mixing(self) -> None:
        if self._mixes():
            by_teacher, steps = self._executed_by_teacher
            self.logger.record("train/teacher_action_prob", self.current_teacher_action_prob())
            self.logger.record("train/teacher_actions", by_teacher / max(steps, 1))
