"""The evaluation protocol: mean return over episodes, for teachers and students alike, on seeds training never uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv

from sb3_distill import envs

#: Evaluation environments are seeded ``seed + EVAL_SEED_OFFSET``, so they never share seeds with training ones.
EVAL_SEED_OFFSET = 10_000


@dataclass(frozen=True)
class Score:
    """A mean return, its standard deviation over episodes, and how many episodes."""

    mean: float
    std: float
    episodes: int


def evaluation_env(env_id: str, seed: int, offset: int = 0) -> VecEnv:
    """One raw environment for evaluating a run of ``seed`` (``offset`` tells apart several of one run)."""
    return envs.make(env_id, 1, seed + EVAL_SEED_OFFSET + offset, normalize=False, training=False)


def score(agent: Any, env: VecEnv, episodes: int, deterministic: bool = True) -> Score:
    """Evaluate anything with SB3's ``predict`` (a model or a ``Teacher``) on ``env``."""
    mean, std = evaluate_policy(agent, env, n_eval_episodes=episodes, deterministic=deterministic, warn=False)
    # lists of episodes come back only with return_episode_rewards=True
    return Score(float(cast(float, mean)), float(cast(float, std)), episodes)
