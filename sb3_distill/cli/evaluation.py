"""Mean return over evaluation episodes, for teachers and students alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv


@dataclass(frozen=True)
class Score:
    mean: float
    std: float
    episodes: int


def score(agent: Any, env: VecEnv, episodes: int, deterministic: bool = True) -> Score:
    """Evaluate anything with SB3's ``predict`` (a model or a ``Teacher``) on ``env``."""
    mean, std = evaluate_policy(agent, env, n_eval_episodes=episodes, deterministic=deterministic, warn=False)
    return Score(float(mean), float(std), episodes)
