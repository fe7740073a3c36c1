"""The benchmark suites of the paper (§4) and what each implies: policy, normalisation, evaluation protocol."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym

PROCGEN_GAMES = (
    "bigfish",
    "bossfight",
    "caveflyer",
    "chaser",
    "climber",
    "coinrun",
    "dodgeball",
    "fruitbot",
    "heist",
    "jumper",
    "leaper",
    "maze",
    "miner",
    "ninja",
    "plunder",
    "starpilot",
)


@dataclass(frozen=True)
class Suite:
    """How environments of one suite are built and evaluated.

    :param name: ``classic``, ``mujoco``, ``atari``, ``minatar`` or ``procgen``
    :param policy: the SB3 policy name teachers and students use
    :param normalize_obs: observations pass through ``VecNormalize`` (frozen for distillation and evaluation)
    :param normalize_reward: rewards are normalised by a running average during training
    :param deterministic_eval: evaluate with the policy's most probable action (paper §7)
    :param eval_episodes: the paper's number of evaluation episodes per agent and seed
    :param extra: the ``pip install sb3-distill[EXTRA]`` that provides the suite, if any
    """

    name: str
    policy: str
    normalize_obs: bool
    normalize_reward: bool
    deterministic_eval: bool
    eval_episodes: int
    extra: str | None = None


SUITES = {
    "classic": Suite("classic", "MlpPolicy", False, False, True, 50),
    "mujoco": Suite("mujoco", "MlpPolicy", True, True, True, 50, "mujoco"),
    "atari": Suite("atari", "CnnPolicy", False, True, True, 50, "atari"),
    "minatar": Suite("minatar", "CnnPolicy", False, True, True, 50, "minatar"),
    "procgen": Suite("procgen", "CnnPolicy", False, True, False, 200, "procgen"),
}


def suite_of(env_id: str) -> Suite:
    """The suite an environment id belongs to (``classic`` for anything not in the paper's suites)."""
    if env_id.startswith("MinAtar/"):
        return SUITES["minatar"]
    if "NoFrameskip" in env_id or env_id.startswith("ALE/"):
        return SUITES["atari"]
    if is_procgen_id(env_id):
        return SUITES["procgen"]
    spec = gym.registry.get(env_id)
    entry_point = getattr(spec, "entry_point", "") if spec is not None else ""
    if isinstance(entry_point, str) and entry_point.startswith("gymnasium.envs.mujoco"):
        return SUITES["mujoco"]
    return SUITES["classic"]


def is_procgen_id(env_id: str) -> bool:
    """envpool's Procgen ids: ``CoinrunEasy-v0``, ``MinerHard-v0``, ..."""
    for mode in ("Easy", "Hard"):
        suffix = f"{mode}-v0"
        if env_id.endswith(suffix) and env_id[: -len(suffix)].lower() in PROCGEN_GAMES:
            return True
    return False
