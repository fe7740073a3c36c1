"""Teacher-distill with a recurrent (LSTM) student: the teacher acts, the student's LSTM follows its trajectory."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import torch as th
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.type_aliases import MaybeCallback
from stable_baselines3.common.utils import obs_as_tensor

from sb3_distill.common.observation_normalizer import Obs
from sb3_distill.common.teacher_rollouts import LabelledBuffer
from sb3_distill.recurrent.student_distill import RecurrentStudentDistill
from sb3_distill.student_distill.mixing import refuse_mixing

__all__ = ["RecurrentTeacherDistill"]

SelfRecurrentTeacherDistill = TypeVar("SelfRecurrentTeacherDistill", bound="RecurrentTeacherDistill")


class RecurrentTeacherDistill(RecurrentStudentDistill):
    """Teacher-distill with an LSTM student: like :class:`RecurrentStudentDistill`, but the teacher acts.

    The teacher samples its (stochastic) actions and labels each state as it goes. The student's LSTM still
    steps along the teacher's trajectory during collection (its actions are dropped), so that every stored
    transition carries the student's LSTM states and each training sequence starts from the state the student
    would have there. The ``rollout/ep_rew_mean`` it logs is the teacher's return. Takes the same arguments as
    :class:`RecurrentStudentDistill`.
    """

    def _start_rollout(self, n_envs: int) -> None:
        super()._start_rollout(n_envs)
        self._require_teacher().reset_noise(n_envs)

    def _init_mixing(self, teacher_action_prob: Any, use_sde: bool, policy_kwargs: Any) -> None:
        refuse_mixing(teacher_action_prob)
        super()._init_mixing(0.0, use_sde, policy_kwargs)

    def _act_recurrent(
        self, obs: Obs, lstm_states: RNNStates, episode_starts: th.Tensor
    ) -> tuple[np.ndarray, th.Tensor, th.Tensor, RNNStates, th.Tensor | None, th.Tensor | None]:
        """The teacher's actions, labels and values; the student's LSTM states advanced by the same observations."""
        # the student's LSTM reads observations only, so the teacher's choice of actions does not change its states
        _, _, _, lstm_states = self.policy(obs_as_tensor(obs, self.device), lstm_states, episode_starts)  # type: ignore[arg-type]
        actions, teacher_params, teacher_values = self._teacher_act(obs)
        # The student's values and log-probabilities of the teacher's actions are not used.
        values = log_probs = th.zeros(len(actions))
        return actions, values, log_probs, lstm_states, teacher_params, teacher_values

    def _bootstrap_truncated_recurrent(
        self, rewards: np.ndarray, dones: np.ndarray, infos: list[dict[str, Any]], lstm_states: RNNStates
    ) -> None:
        """Nothing: only the student's own returns would be bootstrapped, and they are not learned from here."""

    def _label_after_rollout(self, rollout_buffer: LabelledBuffer) -> None:
        """Nothing: the teacher labelled each state as it acted."""

    def _teacher_observation_kept(self) -> bool:
        return False  # the teacher has seen each state already

    def learn(
        self: SelfRecurrentTeacherDistill,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 100,
        tb_log_name: str = "RecurrentTeacherDistill",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfRecurrentTeacherDistill:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
