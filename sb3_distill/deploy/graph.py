"""One torch module from the environment's observation to the environment's action, as SB3's ``predict`` computes it.

SB3's ``predict`` is numpy around a network: ``VecNormalize`` normalises the observation (float64), the
policy transposes channel-last images, scales them, one-hot encodes discrete observations, takes the
distribution's mode, and ``predict`` unscales or clips a Box action. :class:`DeployedPolicy` does all of it
in torch, so an exported graph needs nothing of SB3 or of the environment's wrappers beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import (
    BernoulliDistribution,
    CategoricalDistribution,
    DiagGaussianDistribution,
    MultiCategoricalDistribution,
    SquashedDiagGaussianDistribution,
    StateDependentNoiseDistribution,
)
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.preprocessing import preprocess_obs
from stable_baselines3.common.torch_layers import MlpExtractor
from stable_baselines3.common.vec_env import VecNormalize
from stable_baselines3.common.vec_env.stacked_observations import StackedObservations
from torch import nn


class NotExportable(ValueError):
    """A policy, space or setting that the exported graph cannot reproduce; the message says which and why."""


def is_recurrent(policy: BasePolicy) -> bool:
    return hasattr(policy, "lstm_actor")


class _Statistics(nn.Module):
    """Frozen ``VecNormalize`` statistics of one observation entry, applied in float64 as ``VecNormalize`` does."""

    mean: th.Tensor
    scale: th.Tensor

    def __init__(self, space: spaces.Space, stats: tuple[np.ndarray, np.ndarray] | None, clip: float, epsilon: float):
        super().__init__()
        self.normalized = stats is not None
        if stats is not None:
            mean, var = stats
            if mean.shape != space.shape:
                raise NotExportable(
                    f"The saved statistics have shape {mean.shape}, the observation {space.shape}: "
                    "they do not belong to this model."
                )
            self.register_buffer("mean", th.as_tensor(mean, dtype=th.float64))
            self.register_buffer("scale", th.as_tensor(np.sqrt(var + epsilon), dtype=th.float64))
            self.clip = float(clip)

    def forward(self, observation: th.Tensor) -> th.Tensor:
        if not self.normalized:
            return observation
        return ((observation.double() - self.mean) / self.scale).clamp(-self.clip, self.clip)


class _FrameStack(nn.Module):
    """``VecFrameStack`` as a state: the previous stack (zeros where an episode starts), its oldest frame dropped,
    the new frame appended on the stacking axis, in the stack's dtype."""

    def __init__(self, frame_space: spaces.Box, n_stack: int):
        super().__init__()
        stacking = StackedObservations(1, n_stack, frame_space)
        self.axis = stacking.stack_dimension  # of a batch: 1 for channel-first images, else -1
        self.frame = int(frame_space.shape[self.axis if self.axis < 0 else 0])
        self.stacked_space = stacking.stacked_observation_space
        self.dtype = th.as_tensor(np.zeros(1, dtype=frame_space.dtype)).dtype

    def forward(self, frame: th.Tensor, frames: th.Tensor, episode_start: th.Tensor) -> th.Tensor:
        starts = episode_start.view(-1, *([1] * (frames.dim() - 1))) > 0.5
        previous = th.where(starts, th.zeros_like(frames), frames)
        total = frames.shape[self.axis]
        return th.cat([previous.narrow(self.axis, self.frame, total - self.frame), frame.to(frames.dtype)], dim=self.axis)


def _needs_transpose(env_space: spaces.Space, policy_space: spaces.Space) -> bool:
    env_shape, policy_shape = env_space.shape, policy_space.shape
    if env_shape == policy_shape:
        return False
    if env_shape is not None and policy_shape is not None and len(env_shape) == 3 and len(policy_shape) == 3:
        if (env_shape[2], env_shape[0], env_shape[1]) == policy_shape:
            return True
    raise NotExportable(
        f"The environment observes shape {env_shape}, the policy reads {policy_shape}: they do not fit (a frame-stacked "
        "or partially observed student must be exported from its run folder, which records how it reads)."
    )


class DeployedPolicy(nn.Module):
    """The environment's observation to its action, deterministic, with normalisation, preprocessing and
    post-processing inside.

    Inputs, in order: ``observation`` (a Dict's entries: ``observation_<key>``, in its key order); with a frame
    stack, ``frames`` (the stack the policy read at the previous step; zeros at first); with an LSTM,
    ``state_h`` and ``state_c``; with either, ``episode_start`` (1 where an episode starts: the stack and the
    LSTM state restart from zeros). Outputs: ``action``, then ``next_frames`` and ``next_state_h``,
    ``next_state_c``, to feed back at the next step.

    :param policy: an SB3 policy: actor-critic (PPO, A2C and this library's students), recurrent
        (``RecurrentPPO``), SAC/TQC, TD3/DDPG, or DQN/QR-DQN
    :param env_space: the observation space of the environment the graph reads from: beneath any
        ``VecNormalize``, and one frame where the policy reads a stack of ``frame_stack``
    :param vec_normalize: the frozen statistics the policy was trained behind, or ``None``
    :param frame_stack: the policy reads the last N observations, stacked as ``VecFrameStack`` stacks them
        (after the statistics, which are per frame)
    """

    low: th.Tensor
    high: th.Tensor

    def __init__(
        self, policy: BasePolicy, env_space: spaces.Space, vec_normalize: VecNormalize | None = None, frame_stack: int = 1
    ):
        super().__init__()
        # only what acts is kept (no critic, no target networks): the file and the parameter count are the actor's
        self.features_extractor = _pi_extractor(policy)
        self.observation_space = policy.observation_space
        self.normalize_images = bool(getattr(policy, "normalize_images", True))
        self.lstm: nn.LSTM | None = getattr(policy, "lstm_actor", None)
        self.recurrent = is_recurrent(policy)
        policy_space = policy.observation_space
        self.keys: list[str] | None = None
        self.stack: _FrameStack | None = None
        clip, epsilon = _clip(vec_normalize)
        if isinstance(env_space, spaces.Dict):
            if frame_stack > 1:
                raise NotExportable("A student reading stacked Dict observations cannot be exported yet.")
            if not isinstance(policy_space, spaces.Dict) or set(env_space.spaces) != set(policy_space.spaces):
                raise NotExportable(f"The environment observes {env_space}, the policy reads {policy_space}.")
            self.keys = list(env_space.spaces)
            self.statistics = nn.ModuleList(
                _Statistics(env_space[k], _stats(vec_normalize, k), clip, epsilon) for k in self.keys
            )
            self.transpose = [_needs_transpose(env_space[k], policy_space[k]) for k in self.keys]
        else:
            self.statistics = nn.ModuleList([_Statistics(env_space, _stats(vec_normalize, None), clip, epsilon)])
            read_space = env_space
            if frame_stack > 1:
                if not isinstance(env_space, spaces.Box):
                    raise NotExportable(f"Only Box observations are stacked by VecFrameStack; got {env_space}.")
                self.stack = _FrameStack(env_space, frame_stack)
                read_space = self.stack.stacked_space
            self.transpose = [_needs_transpose(read_space, policy_space)]
        self.head = _head(policy)
        action_space = policy.action_space
        self.box = isinstance(action_space, spaces.Box)
        if self.box:
            assert isinstance(action_space, spaces.Box)
            self.unscale = bool(policy.squash_output)
            self.register_buffer("low", th.as_tensor(action_space.low, dtype=th.float32))
            self.register_buffer("high", th.as_tensor(action_space.high, dtype=th.float32))

    @property
    def has_episode_start(self) -> bool:
        return self.recurrent or self.stack is not None

    @property
    def input_names(self) -> list[str]:
        names = ["observation"] if self.keys is None else [f"observation_{key}" for key in self.keys]
        names += ["frames"] if self.stack is not None else []
        names += ["state_h", "state_c"] if self.recurrent else []
        return names + (["episode_start"] if self.has_episode_start else [])

    @property
    def output_names(self) -> list[str]:
        names = ["action"] + (["next_frames"] if self.stack is not None else [])
        return names + (["next_state_h", "next_state_c"] if self.recurrent else [])

    @property
    def input_batch_axes(self) -> list[int]:
        """The batch axis of each input (an LSTM state is ``[layers, batch, hidden]``)."""
        return [1 if name.startswith("state_") else 0 for name in self.input_names]

    def forward(self, *inputs: th.Tensor) -> th.Tensor | tuple[th.Tensor, ...]:
        named = dict(zip(self.input_names, inputs, strict=True))
        entries = [named["observation"]] if self.keys is None else [named[f"observation_{key}"] for key in self.keys]
        read = [statistics(entry) for statistics, entry in zip(self.statistics, entries, strict=True)]
        outputs: list[th.Tensor] = []
        if self.stack is not None:
            read = [self.stack(read[0], named["frames"], named["episode_start"])]
            outputs.append(read[0])
        read = [x.permute(0, 3, 1, 2) if transpose else x for x, transpose in zip(read, self.transpose, strict=True)]
        observation: th.Tensor | dict[str, th.Tensor] = (
            read[0] if self.keys is None else dict(zip(self.keys, read, strict=True))
        )
        # SB3's preprocessing, as BasePolicy.extract_features applies it: image scaling, one-hot, float
        features = self.features_extractor(preprocess_obs(observation, self.observation_space, self.normalize_images))
        if self.recurrent:
            assert self.lstm is not None
            keep = (1.0 - named["episode_start"].float()).view(1, -1, 1)  # a new episode starts from a zero state
            state = (keep * named["state_h"], keep * named["state_c"])
            latent, (state_h, state_c) = self.lstm(features.unsqueeze(0), state)
            features = latent.squeeze(0)
            outputs += [state_h, state_c]
        action = self._action(self.head(features))
        return (action, *outputs) if outputs else action

    def _action(self, action: th.Tensor) -> th.Tensor:
        if not self.box:
            return action
        if self.unscale:  # BasePolicy.unscale_action: [-1, 1] -> [low, high]
            return self.low + 0.5 * (action + 1.0) * (self.high - self.low)
        return th.maximum(th.minimum(action, self.high), self.low)


def _stats(vec_normalize: VecNormalize | None, key: str | None) -> tuple[np.ndarray, np.ndarray] | None:
    if vec_normalize is None or not vec_normalize.norm_obs:
        return None
    rms: Any = vec_normalize.obs_rms
    if key is None:
        return np.asarray(rms.mean), np.asarray(rms.var)
    if key not in (vec_normalize.norm_obs_keys or []):
        return None
    return np.asarray(rms[key].mean), np.asarray(rms[key].var)  # type: ignore[index]


def _clip(vec_normalize: VecNormalize | None) -> tuple[float, float]:
    return (float(vec_normalize.clip_obs), float(vec_normalize.epsilon)) if vec_normalize is not None else (np.inf, 0.0)


def _pi_extractor(policy: Any) -> nn.Module:
    if hasattr(policy, "pi_features_extractor"):
        return policy.pi_features_extractor
    actor = getattr(policy, "actor", None)
    if actor is not None:
        return actor.features_extractor
    q_net = getattr(policy, "q_net", None) or getattr(policy, "quantile_net", None)
    if q_net is not None:
        return q_net.features_extractor
    return policy.features_extractor


class _Mode(nn.Module):
    """Features -> the deterministic action of a policy's head (the mode of its distribution)."""

    def __init__(self, latent: nn.Module, action_net: nn.Module, kind: str, splits: Sequence[int] = ()):
        super().__init__()
        self.latent, self.action_net, self.kind, self.splits = latent, action_net, kind, list(splits)

    def forward(self, features: th.Tensor) -> th.Tensor:
        out = self.action_net(self.latent(features))
        if self.kind == "tanh":
            return th.tanh(out)
        if self.kind == "argmax":
            return out.argmax(dim=1)
        if self.kind == "multi_argmax":
            return th.stack([logits.argmax(dim=1) for logits in th.split(out, self.splits, dim=1)], dim=1)
        if self.kind == "bernoulli":  # SB3's mode is round(sigmoid(logits)), and round(0.5) = 0
            return (out > 0).long()
        if self.kind == "quantile_argmax":
            return out.mean(dim=1).argmax(dim=1)
        return out


class _ActorLatent(nn.Module):
    """``mlp_extractor.forward_actor``; of SB3's ``MlpExtractor`` only the policy half is kept."""

    def __init__(self, mlp_extractor: nn.Module):
        super().__init__()
        self.net: Any = mlp_extractor.policy_net if isinstance(mlp_extractor, MlpExtractor) else mlp_extractor
        self.whole = not isinstance(mlp_extractor, MlpExtractor)

    def forward(self, features: th.Tensor) -> th.Tensor:
        return self.net.forward_actor(features) if self.whole else self.net(features)


def _head(policy: Any) -> _Mode:
    if isinstance(policy, ActorCriticPolicy) or is_recurrent(policy):
        distribution = policy.action_dist  # type: ignore[attr-defined]
        latent = _ActorLatent(policy.mlp_extractor)  # type: ignore[attr-defined]
        action_net = policy.action_net  # type: ignore[attr-defined]
        if isinstance(distribution, SquashedDiagGaussianDistribution):
            return _Mode(latent, action_net, "tanh")
        if isinstance(distribution, StateDependentNoiseDistribution):
            return _Mode(latent, action_net, "tanh" if distribution.bijector is not None else "identity")
        if isinstance(distribution, DiagGaussianDistribution):
            return _Mode(latent, action_net, "identity")
        if isinstance(distribution, CategoricalDistribution):
            return _Mode(latent, action_net, "argmax")
        if isinstance(distribution, MultiCategoricalDistribution):
            return _Mode(latent, action_net, "multi_argmax", distribution.action_dims)
        if isinstance(distribution, BernoulliDistribution):
            return _Mode(latent, action_net, "bernoulli")
        raise NotExportable(f"{type(distribution).__name__} actions have no deterministic mode to export.")
    actor = getattr(policy, "actor", None)
    if actor is not None and hasattr(actor, "latent_pi"):  # SAC, TQC: tanh of the Gaussian's mean
        return _Mode(actor.latent_pi, actor.mu, "tanh")
    if actor is not None and hasattr(actor, "mu"):  # TD3, DDPG: mu ends in tanh
        return _Mode(nn.Identity(), actor.mu, "identity")
    q_net = getattr(policy, "q_net", None)
    if q_net is not None and hasattr(q_net, "q_net"):  # DQN
        return _Mode(nn.Identity(), q_net.q_net, "argmax")
    quantile_net = getattr(policy, "quantile_net", None)
    if quantile_net is not None:  # QR-DQN: [batch, n_quantiles, n_actions]
        return _Mode(nn.Identity(), _Quantiles(quantile_net), "quantile_argmax")
    raise NotExportable(
        f"A {type(policy).__name__} cannot be exported: supported are actor-critic policies (PPO, A2C, this library's "
        "students), RecurrentPPO, SAC, TQC, TD3, DDPG, DQN and QR-DQN."
    )


class _Quantiles(nn.Module):
    def __init__(self, quantile_net: Any):
        super().__init__()
        self.net, self.n_quantiles, self.n_actions = (
            quantile_net.quantile_net,
            quantile_net.n_quantiles,
            quantile_net.action_space.n,
        )  # type: ignore[union-attr]

    def forward(self, features: th.Tensor) -> th.Tensor:
        return self.net(features).view(-1, self.n_quantiles, self.n_actions)


def example_inputs(module: DeployedPolicy, env_space: Any, batch: int = 2) -> tuple[th.Tensor, ...]:
    """Inputs of the right shapes and dtypes, to trace the graph with."""
    spaces_in = [env_space[key] for key in module.keys] if module.keys is not None else [env_space]
    inputs = [th.as_tensor(np.stack([space.sample() for _ in range(batch)])) for space in spaces_in]
    if module.stack is not None:
        stacked: Any = module.stack.stacked_space
        inputs.append(th.as_tensor(np.zeros((batch, *stacked.shape), dtype=stacked.dtype)))
    if module.recurrent:
        lstm = module.lstm
        assert lstm is not None
        shape = (lstm.num_layers, batch, lstm.hidden_size)
        inputs += [th.zeros(shape), th.zeros(shape)]
    if module.has_episode_start:
        inputs.append(th.zeros(batch))
    return tuple(inputs)
