"""sb3-contrib's recurrent rollout buffers, plus the teacher's labels of every transition.

The labels are stored per transition, ``[n_steps, n_envs, ...]`` like every other field, and handed
out padded into the same sequences as the observations: sb3-contrib's ``pad``/``pad_and_flatten``,
with the sequence starts it computed for the minibatch, so that row ``i`` of ``teacher_params`` is the
teacher's label of row ``i`` of ``observations``. Padded rows hold zeros; the samples' ``mask`` tells
the real rows apart, and the losses average over those only.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.buffers import RecurrentDictRolloutBuffer, RecurrentRolloutBuffer
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.type_aliases import TensorDict
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill.common.buffers import _empty_for, _empty_like, _fit
from sb3_distill.common.observation_normalizer import Obs

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


class _RecurrentTeacherLabels:
    """What both recurrent distillation buffers add to sb3-contrib's: teacher labels and, when needed, the
    teacher's own view of each state (raw observations, or a privileged view).

    The interface is the feed-forward buffers' (``add_teacher_step``, ``teacher_inputs``,
    ``set_teacher_labels``, ``keep_teacher_observations``), so that the rollout hooks of
    :class:`~sb3_distill.common.teacher_rollouts.TeacherLabelledRollouts` label these buffers unchanged.

    :param hidden_state_shape: ``(n_steps, n_lstm_layers, n_envs, lstm_hidden_size)``, as sb3-contrib's
    :param n_teacher_params: width of the teacher's flat action-distribution parameters
    :param keep_teacher_values: also store the teacher's value of each state
    :param keep_teacher_observations: also store the observations the teacher sees
    :param teacher_observation_space: the space of those observations, when it is not the student's
    """

    _samples_class: type
    teacher_params: np.ndarray
    teacher_values: np.ndarray | None
    teacher_observations: np.ndarray | dict[str, np.ndarray] | None

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
        self.n_teacher_params = n_teacher_params
        self.keep_teacher_values = keep_teacher_values
        self.keep_teacher_observations = keep_teacher_observations
        self.teacher_observation_space = teacher_observation_space
        super().__init__(  # type: ignore[call-arg]
            buffer_size, observation_space, action_space, hidden_state_shape, device, gae_lambda, gamma, n_envs=n_envs
        )

    def reset(self) -> None:
        super().reset()  # type: ignore[misc]
        shape = (self.buffer_size, self.n_envs)  # type: ignore[attr-defined]
        self.teacher_params = np.zeros((*shape, self.n_teacher_params), dtype=np.float32)
        self.teacher_values = np.zeros(shape, dtype=np.float32) if self.keep_teacher_values else None
        self.teacher_observations = None
        if self.keep_teacher_observations:
            if self.teacher_observation_space is None:
                self.teacher_observations = _empty_like(self.observations)  # type: ignore[attr-defined]
            else:
                self.teacher_observations = _empty_for(self.teacher_observation_space, shape)

    def add_teacher_step(self, pos: int, obs: Obs | None, params: th.Tensor | None, values: th.Tensor | None) -> None:
        """Record, for step ``pos``, the teacher's view of the observation and/or its labels."""
        if obs is not None and self.teacher_observations is not None:
            if isinstance(self.teacher_observations, dict):
                assert isinstance(obs, dict)
                for key, array in self.teacher_observations.items():
                    array[pos] = _fit(obs[key], array.shape[1:])
            else:
                assert not isinstance(obs, dict)
                self.teacher_observations[pos] = _fit(obs, self.teacher_observations.shape[1:])
        if params is not None:
            self.teacher_params[pos] = params.cpu().numpy()
        if values is not None and self.teacher_values is not None:
            self.teacher_values[pos] = values.cpu().numpy().flatten()

    def teacher_inputs(self) -> Obs:
        """All observations of the rollout as the teacher must see them, ``[n_steps * n_envs, ...]``, step-major
        (step 0 of every environment first), the order of ``episode_starts.reshape(-1)``."""
        source = self.teacher_observations if self.teacher_observations is not None else self.observations  # type: ignore[attr-defined]
        if isinstance(source, dict):
            return {key: value.reshape(-1, *value.shape[2:]) for key, value in source.items()}
        return source.reshape(-1, *source.shape[2:])

    def set_teacher_labels(self, params: th.Tensor, values: th.Tensor | None) -> None:
        """Store labels computed for ``teacher_inputs()`` (same order)."""
        self.teacher_params[:] = params.cpu().numpy().reshape(self.teacher_params.shape)
        if values is not None and self.teacher_values is not None:
            self.teacher_values[:] = values.cpu().numpy().reshape(self.teacher_values.shape)

    def get(self, batch_size: int | None = None) -> Generator:
        if not self.generator_ready:  # type: ignore[attr-defined]
            # the same env-major flattening sb3-contrib applies to every other field, keeping each env's order
            self.teacher_params = self.swap_and_flatten(self.teacher_params)  # type: ignore[attr-defined]
            if self.teacher_values is not None:
                self.teacher_values = self.swap_and_flatten(self.teacher_values)  # type: ignore[attr-defined]
        yield from super().get(batch_size)  # type: ignore[misc]

    def _get_samples(self, batch_inds: np.ndarray, env_change: np.ndarray, env: VecNormalize | None = None):  # type: ignore[no-untyped-def]
        samples = super()._get_samples(batch_inds, env_change, env)  # type: ignore[misc]
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
