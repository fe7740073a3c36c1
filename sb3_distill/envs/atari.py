"""Atari through ale-py, with the paper's wrappers, and human-normalised scores (paper §4, §7)."""

from __future__ import annotations

from stable_baselines3.common.env_util import make_atari_env
from stable_baselines3.common.vec_env import VecEnv, VecFrameStack

#: Badia et al. (2020, Agent57) random and human scores of the paper's games, as the reference code uses them.
HUMAN_NORMALIZATION = {
    "Atlantis": (12850.0, 29028.1),
    "BeamRider": (363.9, 16926.0),
    "CrazyClimber": (10780.5, 35829.0),
    "DemonAttack": (152.0, 1971.0),
    "Enduro": (0.0, 860.5),
    "Freeway": (0.0, 29.6),
    "MsPacman": (307.3, 6951.0),
    "Pong": (-20.7, 14.6),
    "Qbert": (163.9, 13455.0),
    "Seaquest": (68.4, 42054.7),
    "Zaxxon": (32.5, 9173.3),
}

FRAME_STACK = 4


def game_name(env_id: str) -> str:
    """``PongNoFrameskip-v4`` and ``ALE/Pong-v5`` -> ``Pong``."""
    name = env_id.split("/")[-1].split("-")[0]
    return name.removesuffix("NoFrameskip").removesuffix("Deterministic")


def human_normalized_score(env_id: str, score: float) -> float:
    """``(score - random) / (human - random)`` with Badia et al.'s base values."""
    game = game_name(env_id)
    if game not in HUMAN_NORMALIZATION:
        raise ValueError(f"No human/random base scores for {game!r} ({env_id}); known games: {sorted(HUMAN_NORMALIZATION)}.")
    random, human = HUMAN_NORMALIZATION[game]
    return (score - random) / (human - random)


def register(env_id: str) -> None:
    """Register ale-py's games with Gymnasium."""
    try:
        import ale_py
    except ImportError as error:
        raise ImportError(f"{env_id} needs ale-py: pip install 'sb3-distill[atari]'.") from error
    import gymnasium as gym

    gym.register_envs(ale_py)


def make_atari(env_id: str, n_envs: int, seed: int | None, training: bool) -> VecEnv:
    """The paper's Atari pipeline: SB3's ``AtariWrapper`` (no-op starts, frame skip 4, 84x84 grey) without
    reward clipping, an episode end at the first life loss while training, and the last 4 frames stacked.
    ``env_id`` must be registered (``envs.check_env_id``)."""
    env = make_atari_env(
        env_id, n_envs=n_envs, seed=seed, wrapper_kwargs={"terminal_on_life_loss": training, "clip_reward": False}
    )
    return VecFrameStack(env, n_stack=FRAME_STACK)
