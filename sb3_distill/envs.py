"""Vectorised environments for the command-line tools."""

from __future__ import annotations

import copy
from typing import Any

from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv, VecNormalize


def make(env_id: str, n_envs: int = 1, seed: int | None = None, normalize: bool = False, **env_kwargs: Any) -> VecEnv:
    """``n_envs`` copies of a Gymnasium environment, Monitor-wrapped, optionally behind a fresh ``VecNormalize``.

    :param env_id: a registered Gymnasium id
    :param n_envs: number of environments (run in one process)
    :param seed: seed of the first copy; the others get ``seed + i``
    :param normalize: normalise observations and rewards with running statistics
    """
    import gymnasium as gym

    if env_id not in gym.registry:
        raise ValueError(f"Unknown environment id {env_id!r}: it is not registered with Gymnasium.")
    env = make_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs or None)
    return VecNormalize(env) if normalize else env


def frozen_copy(env: VecEnv, training_env: VecEnv) -> VecEnv:
    """Wrap ``env`` with the observation statistics of ``training_env``'s ``VecNormalize``, frozen, rewards raw.

    Evaluation must see observations normalised as in training, but must neither update the
    statistics nor report normalised rewards.
    """
    if not isinstance(training_env, VecNormalize):
        return env
    evaluation = VecNormalize(env, training=False, norm_obs=training_env.norm_obs, norm_reward=False)
    evaluation.obs_rms = copy.deepcopy(training_env.obs_rms)
    evaluation.clip_obs = training_env.clip_obs
    evaluation.epsilon = training_env.epsilon
    return evaluation
