"""sb3-contrib's recurrent rollout buffers, plus the teacher's labels of every transition.

The labels are stored per transition, ``[n_steps, n_envs, ...]`` like every other field, and handed
out padded into the same sequences as the observations: sb3-contrib's ``pad``/``pad_and_flatten``,
with the sequence starts it computed for the minibatch, so that row ``i`` of ``teacher_params`` is the
teacher's label of row ``i`` of ``observations``. Padded rows hold zeros; the samples' ``mask`` tells
the real rows apart, and the losses average over those only.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.buffers import RecurrentDictRolloutBuffer, RecurrentRolloutBuffer
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.type_aliases import TensorDict
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill.common.buffers import _TeacherLabels

__all__ = [
    "RecurrentDistillationDictRolloutBuffer",
    "RecurrentDistillationDictRolloutBufferSamples",
    "RecurrentDistillationRolloutBuffer",
    "RecurrentDistillationRolloutBufferSamples",
]


class RecurrentDistillationRolloutBufferSamples(NamedTuple):
    """sb3-contrib's ``RecurrentRolloutBufferSamples`` plus the teacher's labels, padded like the rest."""

    observations: th.Tensor
    actions: th.Tensor
    old_values: th.Tensor
    old_log_prob: th.Tensor
    advantages: th.Tensor
    returns: th.Tensor
    lstm_states: RNNStates
    episode_starts: th.Tensor
    mask: th.Tensor
    teacher_params: th.Tensor
    teacher_values: th.Tensor | None


class RecurrentDistillationDictRolloutBufferSamples(NamedTuple):
    """sb3-contrib's ``RecurrentDictRolloutBufferSamples`` plus the teacher's labels, padded like the rest."""

    observations: TensorDict
    actions: th.Tensor
    old_values: th.Tensor
    old_log_prob: th.Tensor
    advantages: th.Tensor
    returns: th.Tensor
    lstm_states: RNNStates
    episode_starts: th.Tensor
    mask: th.Tensor
    teacher_params: th.Tensor
    teacher_values: th.Tensor | None


class _RecurrentTeacherLabels(_TeacherLabels):
    """What both recurrent distillation buffers add to sb3-contrib's: the feed-forward buffers' teacher labels
    and teacher views (``add_teacher_step``, ``teacher_inputs``, ``set_teacher_labels``), so that the rollout
    hooks of :class:`~sb3_distill.common.teacher_rollouts.TeacherLabelledRollouts` label these buffers
    unchanged, handed out padded into the minibatch's sequences. ``teacher_inputs`` is step-major (step 0 of
    every environment first), the order of ``episode_starts.reshape(-1)``.

    :param hidden_state_shape: ``(n_steps, n_lstm_layers, n_envs, lstm_hidden_size)``, as sb3-contrib's
    :param n_teacher_params: width of the teacher's flat action-distribution parameters
    :param keep_teacher_values: also store the teacher's value of each state
    :param keep_teacher_observations: also store the observations the teacher sees
    :param teacher_observation_space: the space of those observations, when it is not the student's
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        hidden_state_shape: tuple[int, int, int, int],
        device: th.device | str = "auto",
        gae_lambda: float = 1,
        gamma: float = 0.99,
        n_envs: int = 1,
        n_teacher_params: int = 1,
        keep_teacher_values: bool = False,
        keep_teacher_observations: bool = False,
        teacher_observation_space: spaces.Space | None = None,
    ):
        self._keep_teacher(n_teacher_params, keep_teacher_values, keep_teacher_observations, teacher_observation_space)
        # past _TeacherLabels' constructor to sb3-contrib's, which also takes the hidden states' shape
        super(_TeacherLabels, self).__init__(  # type: ignore[call-arg]
            buffer_size, observation_space, action_space, hidden_state_shape, device, gae_lambda, gamma, n_envs=n_envs
        )

    def _get_samples(self, batch_inds: np.ndarray, env_change: np.ndarray, env: VecNormalize | None = None):  # type: ignore[no-untyped-def, override]
        samples = super(_TeacherLabels, self)._get_samples(batch_inds, env_change, env)  # type: ignore[misc]
        # sb3-contrib's _get_samples has just built self.pad / self.pad_and_flatten for this minibatch's sequences
        padded_size = len(samples.mask)
        teacher_params = self.pad(self.teacher_params[batch_inds]).reshape(padded_size, self.n_teacher_params)  # type: ignore[attr-defined]
        teacher_values = (
            None if self.teacher_values is None else self.pad_and_flatten(self.teacher_values[batch_inds])  # type: ignore[attr-defined]
        )
        return self._samples_class(*samples, teacher_params, teacher_values)


class RecurrentDistillationRolloutBuffer(_RecurrentTeacherLabels, RecurrentRolloutBuffer):  # type: ignore[misc]
    """sb3-contrib's ``RecurrentRolloutBuffer`` plus the teacher's labels (parameters: see ``_RecurrentTeacherLabels``)."""

    _samples_class = RecurrentDistillationRolloutBufferSamples


class RecurrentDistillationDictRolloutBuffer(_RecurrentTeacherLabels, RecurrentDictRolloutBuffer):  # type: ignore[misc]
    """sb3-contrib's ``RecurrentDictRolloutBuffer`` plus the teacher's labels (parameters: see ``_RecurrentTeacherLabels``)."""

    _samples_class = RecurrentDistillationDictRolloutBufferSamples
