"""Rollout buffers that carry the teacher's labels next to each transition.

The teacher is evaluated once per collected transition; its action-distribution parameters (and
value) are stored here and handed out with every minibatch, never recomputed per epoch.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.preprocessing import get_obs_shape
from stable_baselines3.common.type_aliases import TensorDict
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill.common.observation_normalizer import Obs


class DistillationRolloutBufferSamples(NamedTuple):
    observations: th.Tensor
    actions: th.Tensor
    old_values: th.Tensor
    old_log_prob: th.Tensor
    advantages: th.Tensor
    returns: th.Tensor
    teacher_params: th.Tensor
    teacher_values: th.Tensor | None


class DistillationDictRolloutBufferSamples(NamedTuple):
    observations: TensorDict
    actions: th.Tensor
    old_values: th.Tensor
    old_log_prob: th.Tensor
    advantages: th.Tensor
    returns: th.Tensor
    teacher_params: th.Tensor
    teacher_values: th.Tensor | None


class _TeacherLabels:
    """What both distillation buffers add to SB3's: teacher labels and, when needed, the teacher's own view.

    ``teacher_observations`` is only kept when the teacher must see observations other than the
    ones stored for the student: raw observations, when the student runs behind its own
    ``VecNormalize`` and the teacher has its own statistics, or a privileged view of the same states
    (:mod:`sb3_distill.common.teacher_views`).

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
        super().__init__(buffer_size, observation_space, action_space, device, gae_lambda, gamma, n_envs)  # type: ignore[call-arg]

    def _keep_teacher(
        self,
        n_teacher_params: int,
        keep_teacher_values: bool,
        keep_teacher_observations: bool,
        teacher_observation_space: spaces.Space | None,
    ) -> None:
        """Set what the buffer keeps of the teacher (before SB3's constructor, which calls ``reset``)."""
        self.n_teacher_params = n_teacher_params
        self.keep_teacher_values = keep_teacher_values
        self.keep_teacher_observations = keep_teacher_observations
        self.teacher_observation_space = teacher_observation_space

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
        """All observations of the rollout as the teacher must see them, flattened to ``[n_steps * n_envs, ...]``."""
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
            # the same env-major flattening SB3 applies to every other field, keeping each env's order
            self.teacher_params = self.swap_and_flatten(self.teacher_params)  # type: ignore[attr-defined]
            if self.teacher_values is not None:
                self.teacher_values = self.swap_and_flatten(self.teacher_values)  # type: ignore[attr-defined]
        yield from super().get(batch_size)  # type: ignore[misc]

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None):  # type: ignore[no-untyped-def]
        teacher_values = None if self.teacher_values is None else self.to_torch(self.teacher_values[batch_inds].flatten())  # type: ignore[attr-defined]
        return self._samples_class(
            *super()._get_samples(batch_inds, env),  # type: ignore[misc]
            self.to_torch(self.teacher_params[batch_inds]),  # type: ignore[attr-defined]
            teacher_values,
        )


def _fit(obs: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Flat and discrete observations are reshaped like SB3's buffers do; images must already match, since
    reshaping an image of another layout would scramble its pixels silently."""
    value = np.asarray(obs)
    if value.shape == shape or len(shape) <= 2:
        return value.reshape(shape)
    raise ValueError(f"Observations for the teacher have shape {value.shape}, expected {shape}.")


def _empty_for(space: spaces.Space, shape: tuple[int, int]) -> np.ndarray | dict[str, np.ndarray]:
    """Zeros for ``[n_steps, n_envs]`` observations of ``space``, as SB3's buffers store them (float32)."""
    observation_shape = get_obs_shape(space)
    if isinstance(observation_shape, dict):
        return {key: np.zeros((*shape, *value), dtype=np.float32) for key, value in observation_shape.items()}
    return np.zeros((*shape, *observation_shape), dtype=np.float32)


def _empty_like(observations: np.ndarray | dict[str, np.ndarray]) -> np.ndarray | dict[str, np.ndarray]:
    if isinstance(observations, dict):
        return {key: np.zeros_like(value) for key, value in observations.items()}
    return np.zeros_like(observations)


class DistillationRolloutBuffer(_TeacherLabels, RolloutBuffer):
    """SB3's ``RolloutBuffer`` plus the teacher's labels for every transition (parameters: see ``_TeacherLabels``)."""

    _samples_class = DistillationRolloutBufferSamples


class DistillationDictRolloutBuffer(_TeacherLabels, DictRolloutBuffer):
    """SB3's ``DictRolloutBuffer`` plus the teacher's labels for every transition (parameters: see ``_TeacherLabels``)."""

    _samples_class = DistillationDictRolloutBufferSamples
