"""The frozen teacher: an SB3 actor-critic policy plus the observation statistics it was trained with."""

from __future__ import annotations

import os
from typing import Union

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill.common.action_params import ActionParamSpec, action_params
from sb3_distill.common.observation_normalizer import Obs, ObservationNormalizer
from sb3_distill.common.policy_forward import distribution_and_values

#: A teacher's observation statistics: a ``VecNormalize`` or its .pkl path; ``False`` for a teacher trained
#: on raw observations; ``None`` when not given.
TeacherNormalization = Union[VecNormalize, ObservationNormalizer, str, os.PathLike, bool, None]


class Teacher:
    """A frozen teacher policy that labels observations with its action distribution (and value).

    With an ``obs_normalizer`` the teacher sees raw observations passed through it (its own frozen
    statistics, or unchanged for ``ObservationNormalizer.identity()``), whatever the student's own
    normalisation. Without one it sees the observations the student's policy sees, as in the reference
    implementation (right when the student runs behind the teacher's frozen ``VecNormalize``).

    :param policy: an SB3 actor-critic policy (PPO, A2C, PPD students, ...); it is frozen in place
    :param obs_normalizer: what the teacher does to raw observations, or ``None``
    :param source: where the teacher came from (a path or Hub id), for messages and run manifests

    Build teachers with :func:`sb3_distill.load_teacher`.
    """

    def __init__(self, policy: ActorCriticPolicy, obs_normalizer: ObservationNormalizer | None = None, source: str | None = None):
        if not isinstance(policy, ActorCriticPolicy):
            raise ValueError(
                f"The teacher's policy must be an SB3 ActorCriticPolicy (as used by PPO, A2C, PPD), got {type(policy).__name__}."
            )
        policy.set_training_mode(False)
        for parameter in policy.parameters():
            parameter.requires_grad_(False)
        self.policy = policy
        self.obs_normalizer = obs_normalizer
        self.source = source
        self.spec = ActionParamSpec.for_action_space(policy.action_space)

    @property
    def observation_space(self) -> spaces.Space:
        return self.policy.observation_space

    @property
    def action_space(self) -> spaces.Space:
        return self.policy.action_space

    @property
    def squash_output(self) -> bool:
        return bool(self.policy.squash_output)

    def to(self, device: th.device | str) -> Teacher:
        self.policy.to(device)
        return self

    def _obs_tensor(self, obs: Obs) -> th.Tensor | dict[str, th.Tensor]:
        if self.obs_normalizer is not None:
            obs = self.obs_normalizer(obs)
        return obs_as_tensor(obs, self.policy.device)

    @th.no_grad()
    def label(self, obs: Obs, with_values: bool = False) -> tuple[th.Tensor, th.Tensor | None]:
        """The teacher's action-distribution parameters ``[batch, n_params]`` and, if asked, values ``[batch]``.

        :param obs: a batch of observations, shaped as in the rollout buffer
        :param with_values: also return the teacher's value estimates
        """
        obs_tensor = self._obs_tensor(obs)
        if with_values:
            distribution, values = distribution_and_values(self.policy, obs_tensor)
            return action_params(distribution), values
        return action_params(self.policy.get_distribution(obs_tensor)), None

    @th.no_grad()
    def act(self, obs: Obs) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """Sample the teacher's actions (stochastic) and return them with its parameters and values."""
        distribution, values = distribution_and_values(self.policy, self._obs_tensor(obs))
        return distribution.get_actions(deterministic=False), action_params(distribution), values

    def predict(
        self,
        observation: Obs,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """SB3's ``predict`` on raw observations, so that ``evaluate_policy(teacher, env)`` works."""
        if self.obs_normalizer is not None:
            observation = self.obs_normalizer(observation)
        return self.policy.predict(observation, state, episode_start, deterministic)


def as_normalizer(value: TeacherNormalization, trust_pickle: bool = False) -> ObservationNormalizer | None:
    """Turn the ``teacher_vecnormalize`` argument into the teacher's normaliser (``None``: not given)."""
    if value is None or isinstance(value, ObservationNormalizer):
        return value
    if value is False:
        return ObservationNormalizer.identity()
    if isinstance(value, VecNormalize):
        return ObservationNormalizer.from_vec_normalize(value)
    if isinstance(value, (str, os.PathLike)):
        return ObservationNormalizer.load(value, trust_pickle)
    raise TypeError(
        f"teacher_vecnormalize must be a VecNormalize, the path of its .pkl, or False; got {type(value).__name__}."
    )
