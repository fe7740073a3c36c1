"""The evaluation protocol: mean return over episodes, for teachers and students alike, on seeds training never uses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv

from sb3_distill import envs
from sb3_distill.envs.atari import HUMAN_NORMALIZATION, game_name

#: Evaluation environments are seeded ``seed + EVAL_SEED_OFFSET``, so they never share seeds with training ones.
EVAL_SEED_OFFSET = 10_000


@dataclass(frozen=True)
class Score:
    """A mean return, its standard deviation over episodes, and how many episodes."""

    mean: float
    std: float
    episodes: int


def evaluation_env(env_id: str, seed: int, offset: int = 0, student_observation: Sequence[int] | None = None) -> VecEnv:
    """One raw environment for evaluating a run of ``seed`` (``offset`` tells apart several of one run); with
    ``student_observation``, the deployed student's (those entries only: no privileged input)."""
    return envs.make(
        env_id,
        1,
        seed + EVAL_SEED_OFFSET + offset,
        normalize=False,
        training=False,
        student_observation=student_observation,
        privileged=False,
    )


def score(agent: Any, env: VecEnv, episodes: int, deterministic: bool = True) -> Score:
    """Evaluate anything with SB3's ``predict`` (a model or a ``Teacher``) on ``env``."""
    mean, std = evaluate_policy(agent, env, n_eval_episodes=episodes, deterministic=deterministic, warn=False)
    # lists of episodes come back only with return_episode_rewards=True
    return Score(float(cast(float, mean)), float(cast(float, std)), episodes)


class RandomPolicy:
    """Uniformly random actions, from a seeded action space, with SB3's ``predict``."""

    def __init__(self, action_space: spaces.Space, n_envs: int, seed: int):
        self.action_space = action_space
        self.action_space.seed(seed)
        self.n_envs = n_envs

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False) -> tuple:
        return np.stack([self.action_space.sample() for _ in range(self.n_envs)]), state


def random_score(env_id: str, seed: int, episodes: int) -> tuple[float, str]:
    """The random policy's mean return, and where it comes from: ``"table"`` (Badia et al.'s, for the Atari
    games that the reports human-normalise) or ``"measured"`` (on ``episodes`` evaluation episodes of ``seed``,
    with the environment :func:`evaluation_env` makes for it)."""
    if envs.suite_of(env_id).name == "atari" and game_name(env_id) in HUMAN_NORMALIZATION:
        return HUMAN_NORMALIZATION[game_name(env_id)][0], "table"
    env: VecEnv = evaluation_env(env_id, seed)
    try:
        return score(RandomPolicy(env.action_space, env.num_envs, seed), env, episodes, deterministic=False).mean, "measured"
    finally:
        env.close()
