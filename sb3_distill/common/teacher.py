"""The frozen teacher: an SB3 policy, the observation statistics it was trained with, and how it labels states."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill.common.action_params import DETERMINISTIC, ActionParamSpec, action_params
from sb3_distill.common.observation_normalizer import (
    Obs,
    ObservationNormalizer,
    map_observations,
    observation_count,
    select_observations,
)
from sb3_distill.common.policy_forward import distribution_and_values

#: A teacher's observation statistics: a ``VecNormalize`` or its .pkl path; ``False`` for a teacher trained
#: on raw observations; ``None`` when not given.
TeacherNormalization = VecNormalize | ObservationNormalizer | str | os.PathLike | bool | None

#: How many observations a teacher labels in one forward pass (a rollout of images would not fit in memory).
LABEL_CHUNK = 4096

#: τ of softmax(Q / τ) for DQN-family teachers, as in Rusu et al. (2016).
DEFAULT_Q_TEMPERATURE = 0.01


class Teacher:
    """A frozen teacher that labels observations with its action distribution (and value).

    With an ``obs_normalizer`` the teacher sees raw observations passed through it (its own frozen
    statistics, or unchanged for ``ObservationNormalizer.identity()``), whatever the student's own
    normalisation. Without one it sees the observations the student's policy sees, as in the reference
    implementation (right when the student runs behind the teacher's frozen ``VecNormalize``).

    Build teachers with :func:`sb3_distill.load_teacher`, which picks the family from the policy:
    :class:`ActorCriticTeacher`, :class:`QValueTeacher` or :class:`DeterministicActorTeacher`.

    :param policy: the teacher's SB3 policy; it is frozen in place
    :param obs_normalizer: what the teacher does to raw observations, or ``None``
    :param source: where the teacher came from (a path or Hub id), for messages and run manifests
    """

    def __init__(self, policy: BasePolicy, obs_normalizer: ObservationNormalizer | None = None, source: str | None = None):
        policy.set_training_mode(False)
        for parameter in policy.parameters():
            parameter.requires_grad_(False)
        self.policy = policy
        self.obs_normalizer = obs_normalizer
        self.source = source
        self.spec = self._label_spec()

    def _label_spec(self) -> ActionParamSpec:
        """The layout of this teacher's labels."""
        return ActionParamSpec.for_action_space(self.policy.action_space)

    @property
    def kind(self) -> str:
        """A short name of what the teacher is, for messages: its policy class."""
        return type(self.policy).__name__

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

    def check_environments(self, n_envs: int) -> None:
        """Raise ``ValueError`` when the teacher cannot label a ``VecEnv`` of ``n_envs`` environments."""

    def policies(self) -> list[BasePolicy]:
        """Every frozen policy the teacher labels with (several for a :class:`~sb3_distill.MultiTeacher`)."""
        return [self.policy]

    #: Whether the teacher has a value function (a :class:`~sb3_distill.common.callable_teacher.CallableTeacher`
    #: has none: it teaches PPD only, whose critic learns from the rewards).
    has_values: bool = True

    #: Whether the teacher's outputs depend on a state carried along each environment's steps (an LSTM):
    #: then it labels a rollout in time order (:meth:`label_sequence`) and acts with ``episode_starts``.
    recurrent: bool = False

    def reset_noise(self, n_envs: int) -> None:
        """Prepare exploration noise before the teacher acts in ``n_envs`` environments."""

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
        if self.recurrent:
            raise RuntimeError(
                f"A {self.kind} teacher labels states in the order they were visited (label_sequence), not one by one."
            )
        return self._label(self._obs_tensor(obs), with_values)

    def label_in_chunks(self, obs: Obs, with_values: bool = False) -> tuple[th.Tensor, th.Tensor | None]:
        """:meth:`label` of a whole rollout, ``LABEL_CHUNK`` observations at a time."""
        params, values = [], []
        for start in range(0, observation_count(obs), LABEL_CHUNK):
            chunk = select_observations(obs, slice(start, start + LABEL_CHUNK))
            chunk_params, chunk_values = self.label(chunk, with_values)
            params.append(chunk_params)
            if chunk_values is not None:
                values.append(chunk_values)
        return th.cat(params), th.cat(values) if values else None

    @th.no_grad()
    def act(self, obs: Obs, episode_starts: np.ndarray | None = None) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """Sample the teacher's actions (stochastic) and return them with its parameters and values.

        Actions are in the teacher's own units: [-1, 1]-scaled when ``squash_output``, else the environment's.

        :param obs: one step's observations of every environment
        :param episode_starts: ``[n_envs]``, which of them start an episode (a recurrent teacher resets its state there)
        """
        return self._act(self._obs_tensor(obs))

    def label_sequence(
        self, obs: Obs, episode_starts: np.ndarray, with_values: bool = False
    ) -> tuple[th.Tensor, th.Tensor | None]:
        """Label a rollout in time order: ``obs`` is ``[n_steps * n_envs, ...]`` (step-major, as rollout buffers
        flatten it) and ``episode_starts`` ``[n_steps, n_envs]``. A feed-forward teacher labels each state alone."""
        return self.label(obs, with_values)

    def _label(self, obs: th.Tensor | dict[str, th.Tensor], with_values: bool) -> tuple[th.Tensor, th.Tensor | None]:
        raise NotImplementedError

    def _act(self, obs: th.Tensor | dict[str, th.Tensor]) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        raise NotImplementedError

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


class ActorCriticTeacher(Teacher):
    """A teacher with an SB3 ``ActorCriticPolicy`` (PPO, A2C, PPD students, ...): its own action distribution."""

    policy: ActorCriticPolicy

    def reset_noise(self, n_envs: int) -> None:
        if self.policy.use_sde:
            self.policy.reset_noise(n_envs)

    def _label(self, obs: th.Tensor | dict[str, th.Tensor], with_values: bool) -> tuple[th.Tensor, th.Tensor | None]:
        if with_values:
            distribution, values = distribution_and_values(self.policy, obs)
            return action_params(distribution), values
        return action_params(self.policy.get_distribution(obs)), None

    def _act(self, obs: th.Tensor | dict[str, th.Tensor]) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        distribution, values = distribution_and_values(self.policy, obs)
        return distribution.get_actions(deterministic=False), action_params(distribution), values


class RecurrentTeacher(ActorCriticTeacher):
    """A ``RecurrentPPO`` teacher: its LSTM state follows the student's rollouts.

    The state of each environment advances with every collected transition, in time order, and is reset
    where an episode starts, as when the teacher itself acts; it is carried from one rollout to the next
    (the first state of a rollout follows the last of the one before). Labels and actions come from the
    same state, for the actor's LSTM and, with one, the critic's.
    """

    recurrent = True

    def __init__(self, policy: BasePolicy, obs_normalizer: ObservationNormalizer | None = None, source: str | None = None):
        super().__init__(policy, obs_normalizer, source)
        self._states: tuple[tuple[th.Tensor, th.Tensor], tuple[th.Tensor, th.Tensor]] | None = None

    def reset_state(self, n_envs: int) -> None:
        """Zero the LSTM states of ``n_envs`` environments (the next step of each starts an episode anyway)."""
        layers, _, hidden = self.policy.lstm_hidden_state_shape  # type: ignore[attr-defined,misc]
        zeros = th.zeros((layers, n_envs, hidden), device=self.policy.device)
        self._states = ((zeros, zeros.clone()), (zeros.clone(), zeros.clone()))

    def _step_states(self, n_envs: int) -> tuple[tuple[th.Tensor, th.Tensor], tuple[th.Tensor, th.Tensor]]:
        if self._states is None or self._states[0][0].shape[1] != n_envs:
            self.reset_state(n_envs)
        assert self._states is not None
        return self._states

    def _run(self, obs: th.Tensor | dict[str, th.Tensor], starts: np.ndarray) -> tuple[Any, th.Tensor]:
        """The distribution and values of env-major sequences ``obs`` (``[n_envs * n_steps, ...]``), advancing the state."""
        policy = self.policy
        n_envs = starts.shape[0]
        states_pi, states_vf = self._step_states(n_envs)
        episode_starts = th.as_tensor(starts, dtype=th.float32, device=policy.device).flatten()
        features = policy.extract_features(obs)  # type: ignore[arg-type]
        pi_features, vf_features = (features, features) if policy.share_features_extractor else features
        latent_pi, states_pi = policy._process_sequence(pi_features, states_pi, episode_starts, policy.lstm_actor)  # type: ignore[attr-defined,operator]
        if policy.lstm_critic is not None:  # type: ignore[attr-defined]
            latent_vf, states_vf = policy._process_sequence(vf_features, states_vf, episode_starts, policy.lstm_critic)  # type: ignore[attr-defined,operator]
        elif policy.shared_lstm:  # type: ignore[attr-defined]
            latent_vf, states_vf = latent_pi, states_pi
        else:
            latent_vf = policy.critic(vf_features)  # type: ignore[operator]
        self._states = (states_pi, states_vf)
        distribution = policy._get_action_dist_from_latent(policy.mlp_extractor.forward_actor(latent_pi))
        values = policy.value_net(policy.mlp_extractor.forward_critic(latent_vf)).flatten()
        return distribution, values

    @th.no_grad()
    def label_sequence(
        self, obs: Obs, episode_starts: np.ndarray, with_values: bool = False
    ) -> tuple[th.Tensor, th.Tensor | None]:
        n_steps, n_envs = episode_starts.shape

        def env_major(array: np.ndarray) -> np.ndarray:  # [n_steps * n_envs, ...] -> [n_envs * n_steps, ...]
            return array.reshape(n_steps, n_envs, *array.shape[1:]).swapaxes(0, 1).reshape(array.shape)

        distribution, values = self._run(self._obs_tensor(map_observations(obs, env_major)), episode_starts.T)

        def step_major(tensor: th.Tensor) -> th.Tensor:
            return tensor.reshape(n_envs, n_steps, *tensor.shape[1:]).transpose(0, 1).reshape(tensor.shape)

        return step_major(action_params(distribution)), step_major(values) if with_values else None

    @th.no_grad()
    def act(self, obs: Obs, episode_starts: np.ndarray | None = None) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        n_envs = observation_count(obs)
        starts = np.zeros(n_envs) if episode_starts is None else np.asarray(episode_starts, dtype=float)
        distribution, values = self._run(self._obs_tensor(obs), starts.reshape(n_envs, 1))
        return distribution.get_actions(deterministic=False), action_params(distribution), values


class QValueTeacher(Teacher):
    """A DQN or QR-DQN teacher: its policy is ``softmax(Q / temperature)`` (Rusu et al., 2016).

    A small temperature makes the distribution close to the greedy policy the teacher was trained to
    follow. Its value, for value distillation, is ``V(s) = sum_a π(a|s) Q(s, a)``; for QR-DQN, Q is the
    mean of the quantiles.

    :param temperature: τ > 0
    """

    def __init__(
        self,
        policy: BasePolicy,
        obs_normalizer: ObservationNormalizer | None = None,
        source: str | None = None,
        temperature: float = DEFAULT_Q_TEMPERATURE,
    ):
        if not (isinstance(temperature, (int, float)) and temperature > 0 and np.isfinite(temperature)):
            raise ValueError(f"The temperature of a Q-value teacher must be a finite number > 0, got {temperature!r}.")
        super().__init__(policy, obs_normalizer, source)
        self.temperature = float(temperature)

    def q_values(self, obs: th.Tensor | dict[str, th.Tensor]) -> th.Tensor:
        if hasattr(self.policy, "quantile_net"):  # QR-DQN: [batch, n_quantiles, n_actions]
            return self.policy.quantile_net(obs).mean(dim=1)  # type: ignore[operator]
        return self.policy.q_net(obs)  # type: ignore[operator]

    def _label(self, obs: th.Tensor | dict[str, th.Tensor], with_values: bool) -> tuple[th.Tensor, th.Tensor | None]:
        q = self.q_values(obs)
        log_pi = th.log_softmax(q / self.temperature, dim=1)
        return log_pi, (log_pi.exp() * q).sum(dim=1) if with_values else None

    def _act(self, obs: th.Tensor | dict[str, th.Tensor]) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        log_pi, values = self._label(obs, with_values=True)
        return th.distributions.Categorical(logits=log_pi).sample(), log_pi, values  # type: ignore[return-value]


class DeterministicActorTeacher(Teacher):
    """A SAC, TD3, DDPG or TQC teacher, taught from by action matching (``distill_loss="mse"`` or ``"huber"``).

    Its labels are its deterministic action (SAC and TQC: tanh of the mean) in SB3's [-1, 1]-scaled
    units. Its value, for value distillation, is ``Q(s, μ(s))`` averaged over its critics (and, for
    TQC, over their quantiles). When it acts (teacher-distill), SAC and TQC sample from their
    policy, and TD3 and DDPG act as they explore in training: ``clip(μ(s) + N(0, action_noise²), -1, 1)``.
    Acting with ``μ(s)`` alone, a TD3 teacher shows the student only its own trajectories, and students that
    never saw a state off them drifted away from it: on Pendulum-v1 (``benchmarks/specs/td3-raw.yaml``)
    teacher-distill kept 0.54-0.82 of the teacher's random-normalised score without noise and 0.87-0.99
    with σ = 0.1. The labels are always the noiseless ``μ(s)``.
    """

    #: σ of the Gaussian noise on a TD3 or DDPG teacher's actions when it acts, in its [-1, 1] units: the
    #: ``NormalActionNoise`` the RL Zoo's TD3 settings explore with. Set it on the teacher (0: ``μ(s)`` alone).
    action_noise: float = 0.1

    def _label_spec(self) -> ActionParamSpec:
        return ActionParamSpec(DETERMINISTIC, (spaces.flatdim(self.policy.action_space),))

    def reset_noise(self, n_envs: int) -> None:
        if getattr(self.policy, "use_sde", False):
            self.policy.reset_noise(n_envs)  # type: ignore[operator]

    def q_value(self, obs: th.Tensor | dict[str, th.Tensor], actions: th.Tensor) -> th.Tensor:
        q = self.policy.critic(obs, actions)  # type: ignore[operator]
        if isinstance(q, th.Tensor):  # TQC: [batch, n_critics, n_quantiles]
            return q.flatten(start_dim=1).mean(dim=1)
        return th.cat(q, dim=1).mean(dim=1)  # SAC, TD3, DDPG: one [batch, 1] per critic

    def _label(self, obs: th.Tensor | dict[str, th.Tensor], with_values: bool) -> tuple[th.Tensor, th.Tensor | None]:
        actions = self.policy._predict(obs, deterministic=True)
        return actions, self.q_value(obs, actions) if with_values else None

    @property
    def acts_deterministically(self) -> bool:
        """TD3 and DDPG: their actor has no distribution to sample from (SAC's and TQC's have)."""
        return not hasattr(getattr(self.policy, "actor", None), "action_dist")

    def _act(self, obs: th.Tensor | dict[str, th.Tensor]) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        labels, values = self._label(obs, with_values=True)
        if self.acts_deterministically:
            noise = self.action_noise * th.randn_like(labels) if self.action_noise > 0 else th.zeros_like(labels)
            return (labels + noise).clamp(-1.0, 1.0), labels, values  # type: ignore[return-value]
        return self.policy._predict(obs, deterministic=False), labels, values  # type: ignore[return-value]


def _is_deterministic_actor(policy: BasePolicy) -> bool:
    return isinstance(getattr(policy, "actor", None), th.nn.Module) and isinstance(
        getattr(policy, "critic", None), th.nn.Module
    )


def make_teacher(
    policy: BasePolicy,
    obs_normalizer: ObservationNormalizer | None = None,
    source: str | None = None,
    temperature: float = DEFAULT_Q_TEMPERATURE,
) -> Teacher:
    """The teacher family that fits ``policy``."""
    if hasattr(policy, "lstm_actor"):
        return RecurrentTeacher(policy, obs_normalizer, source)
    if isinstance(policy, ActorCriticPolicy):
        return ActorCriticTeacher(policy, obs_normalizer, source)
    if hasattr(policy, "q_net") or hasattr(policy, "quantile_net"):
        return QValueTeacher(policy, obs_normalizer, source, temperature)
    if _is_deterministic_actor(policy):
        return DeterministicActorTeacher(policy, obs_normalizer, source)
    raise ValueError(
        f"A {type(policy).__name__} cannot teach: supported teachers are actor-critic policies (PPO, A2C, PPD, ...), "
        "Q-value policies (DQN, QR-DQN), recurrent ones (RecurrentPPO) and actor-critic policies with a Q-function "
        "critic (SAC, TD3, DDPG, TQC)."
    )


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
