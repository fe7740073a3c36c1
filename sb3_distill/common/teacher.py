"""The frozen teacher: an SB3 actor-critic policy plus the observation statistics it was trained with."""

from __future__ import annotations

import os
import zipfile
from typing import Union

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.utils import get_device, obs_as_tensor
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill.common.action_params import ActionParamSpec, action_params
from sb3_distill.common.observation_normalizer import Obs, ObservationNormalizer
from sb3_distill.common.policy_forward import distribution_and_values

#: File names of saved ``VecNormalize`` statistics: the RL Zoo's, then SB3's documentation's.
VECNORMALIZE_FILE_NAMES = ("vecnormalize.pkl", "vec_normalize.pkl")

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
    :param source: where the teacher came from (a path), for messages and run manifests
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

    @classmethod
    def from_source(
        cls,
        source: Teacher | BaseAlgorithm | ActorCriticPolicy | str | os.PathLike,
        teacher_vecnormalize: TeacherNormalization = None,
        device: th.device | str = "auto",
    ) -> Teacher:
        """Build a teacher from a model, a policy or a path to an SB3 .zip.

        When ``source`` is a path and ``teacher_vecnormalize`` is not given, a ``vecnormalize.pkl`` or
        ``vec_normalize.pkl`` beside the zip (or in the RL Zoo's ``<name>/`` folder next to it) is used;
        with none there, the teacher is taken to have been trained on raw observations.

        :param source: the teacher
        :param teacher_vecnormalize: the teacher's observation statistics: a ``VecNormalize`` or the path
            of its .pkl; ``False`` for a teacher trained on raw observations; ``None`` if not given
        :param device: where the teacher's network runs
        """
        device = get_device(device)
        normalizer = _as_normalizer(teacher_vecnormalize)
        if isinstance(source, Teacher):
            teacher = cls(source.policy, normalizer or source.obs_normalizer, source.source)
        elif isinstance(source, BaseAlgorithm):
            teacher = cls(source.policy, normalizer, source=None)
        elif isinstance(source, ActorCriticPolicy):
            teacher = cls(source, normalizer, source=None)
        elif isinstance(source, (str, os.PathLike)):
            path = _resolve_zip_path(os.fspath(source))
            if normalizer is None:
                beside = find_vecnormalize(path)
                normalizer = ObservationNormalizer.load(beside) if beside else ObservationNormalizer.identity()
            teacher = cls(_policy_from_zip(path, device), normalizer, source=os.path.abspath(path))
        else:
            raise TypeError(
                "The teacher must be an SB3 model, an ActorCriticPolicy, or a path to an SB3 .zip; "
                f"got {type(source).__name__}."
            )
        return teacher.to(device)


def _as_normalizer(value: TeacherNormalization) -> ObservationNormalizer | None:
    if value is None or isinstance(value, ObservationNormalizer):
        return value
    if value is False:
        return ObservationNormalizer.identity()
    if isinstance(value, VecNormalize):
        return ObservationNormalizer.from_vec_normalize(value)
    if isinstance(value, (str, os.PathLike)):
        return ObservationNormalizer.load(value)
    raise TypeError(
        f"teacher_vecnormalize must be a VecNormalize, the path of its .pkl, or False; got {type(value).__name__}."
    )


def find_vecnormalize(zip_path: str) -> str | None:
    """The saved ``VecNormalize`` that belongs to a model zip, if one lies beside it."""
    folder = os.path.dirname(os.path.abspath(zip_path))
    stem = os.path.splitext(os.path.basename(zip_path))[0]
    for directory in (folder, os.path.join(folder, stem)):
        for name in VECNORMALIZE_FILE_NAMES:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                return candidate
    return None


def _resolve_zip_path(path: str) -> str:
    if os.path.isfile(path):
        return path
    if os.path.isfile(path + ".zip"):
        return path + ".zip"
    raise FileNotFoundError(f"Teacher file not found: {path!r}. Pass the path of a model saved with model.save().")


def _constant_zero(_: float) -> float:
    return 0.0


def _policy_from_zip(path: str, device: th.device) -> ActorCriticPolicy:
    """Rebuild only the policy of an SB3 zip, whatever algorithm saved it."""
    if not zipfile.is_zipfile(path):
        raise ValueError(f"Teacher file {path!r} is not an SB3 model: it is not a zip archive.")
    try:
        data, params, _ = load_from_zip_file(path, device=device)
    except Exception as error:
        raise ValueError(f"Teacher file {path!r} is not a readable SB3 model zip: {error}") from error
    if not data or "policy" not in params or "policy_class" not in data:
        raise ValueError(f"Teacher file {path!r} is not an SB3 model zip: it has no 'data' and 'policy.pth' entries.")
    policy_class = data["policy_class"]
    if not (isinstance(policy_class, type) and issubclass(policy_class, ActorCriticPolicy)):
        name = getattr(policy_class, "__name__", repr(policy_class))
        raise ValueError(
            f"Teacher {path!r} has policy class {name}; only actor-critic policies (PPO, A2C, PPD, ...) can teach."
        )
    # The weights are overwritten below; forking keeps the student's random stream untouched by the
    # teacher's initialisation, so a run is reproducible whether its teacher is an object or a file.
    with th.random.fork_rng(devices=[]):
        policy = policy_class(
            data["observation_space"],
            data["action_space"],
            _constant_zero,
            use_sde=data.get("use_sde", False),
            **data.get("policy_kwargs", {}),
        )
    policy.load_state_dict(params["policy"])
    return policy.to(device)
