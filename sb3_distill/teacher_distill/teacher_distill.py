"""Teacher-distill: supervised distillation on trajectories the teacher collects."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import torch as th
from stable_baselines3.common.type_aliases import MaybeCallback

from sb3_distill.common.observation_normalizer import Obs
from sb3_distill.common.teacher_rollouts import LabelledBuffer
from sb3_distill.student_distill.mixing import refuse_mixing
from sb3_distill.student_distill.student_distill import StudentDistill

SelfTeacherDistill = TypeVar("SelfTeacherDistill", bound="TeacherDistill")


class TeacherDistill(StudentDistill):
    """Teacher-distill: like :class:`StudentDistill`, but the teacher acts in the environment.

    The teacher samples its (stochastic) actions; the student is fitted to the teacher's action
    distribution and value on the states the teacher visits, one gradient step per rollout. The
    ``rollout/ep_rew_mean`` it logs is therefore the teacher's return, not the student's. Takes the
    same arguments as :class:`StudentDistill`.

    It differs from :class:`StudentDistill` only in the rollout hooks of
    :class:`~sb3_distill.common.teacher_rollouts.TeacherLabelledRollouts`: the teacher acts and labels
    each state as it goes.
    """

    def _start_rollout(self, n_envs: int) -> None:
        super()._start_rollout(n_envs)
        self._require_teacher().reset_noise(n_envs)

    def _init_mixing(self, teacher_action_prob: Any, use_sde: bool, policy_kwargs: Any) -> None:
        refuse_mixing(teacher_action_prob)
        super()._init_mixing(0.0, use_sde, policy_kwargs)

    def _act(self, obs: Obs) -> tuple[np.ndarray, th.Tensor, th.Tensor, th.Tensor | None, th.Tensor | None]:
        """The teacher's actions, with its labels and values of the states it acts in."""
        actions, teacher_params, teacher_values = self._teacher_act(obs)
        # The student's values and log-probabilities of the teacher's actions are not used.
        values = log_probs = th.zeros(len(actions))
        return actions, values, log_probs, teacher_params, teacher_values

    def _bootstrap_truncated(self, rewards: np.ndarray, dones: np.ndarray, infos: list[dict[str, Any]]) -> None:
        """Nothing: only the student's own returns would be bootstrapped, and they are not learned from here."""

    def _label_after_rollout(self, rollout_buffer: LabelledBuffer) -> None:
        """Nothing: the teacher labelled each state as it acted."""

    def _teacher_observation_kept(self) -> bool:
        return False  # the teacher has seen each state already

    def learn(
        self: SelfTeacherDistill,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 100,
        tb_log_name: str = "TeacherDistill",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfTeacherDistill:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
