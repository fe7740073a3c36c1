"""Procgen through envpool (the ``procgen`` packages need gym<1 and numpy<2), behind an SB3 ``VecEnv``.

envpool resets a finished environment on the *next* ``step`` call and ignores that call's action;
SB3 expects the observation returned with ``done`` to be the first one of the next episode, with
the last one in ``info["terminal_observation"]``. The adapter resets finished environments at once,
so that no step is wasted and SB3's rollout and evaluation code work unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

#: The paper's split: 200 training levels starting at level 0; tests on levels never seen in training.
TRAIN_LEVELS = 200
TEST_START_LEVEL = 1_000_000


class EnvpoolVecEnv(VecEnv):
    """``n_envs`` Procgen games in one envpool, as an SB3 ``VecEnv``.

    :param env_id: an envpool Procgen id, e.g. ``CoinrunEasy-v0``
    :param n_envs: number of environments
    :param seed: envpool's seed
    :param num_levels: number of distinct levels (0: unlimited)
    :param start_level: the first level
    """

    def __init__(self, env_id: str, n_envs: int, seed: int, num_levels: int, start_level: int):
        try:
            import envpool
        except ImportError as error:
            raise ImportError(
                f"{env_id} needs envpool (and the system Qt5 runtime, Debian's libqt5gui5): "
                "pip install 'sb3-distill[procgen]'."
            ) from error
        try:
            self.pool = envpool.make(
                env_id, env_type="gymnasium", num_envs=n_envs, seed=seed, num_levels=num_levels, start_level=start_level
            )
        except OSError as error:  # envpool's Procgen library loads Qt5 when the first game is made
            raise ImportError(
                f"{env_id} could not start: {error}. "
                "Procgen needs the system Qt5 runtime (Debian: apt-get install libqt5gui5)."
            ) from error
        super().__init__(n_envs, self.pool.observation_space, self.pool.action_space)
        self.env_id = env_id
        self._actions: np.ndarray | None = None

    def reset(self) -> VecEnvObs:
        observations, _ = self.pool.reset()
        return observations

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions).reshape(self.num_envs)

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() called without actions: call step_async(actions) first.")
        observations, rewards, terminated, truncated, pool_info = self.pool.step(self._actions)
        dones = np.logical_or(terminated, truncated)
        infos: list[dict[str, Any]] = [{"level_seed": int(seed)} for seed in pool_info["level_seed"]]
        finished = np.flatnonzero(dones)
        if finished.size:
            for index in finished:
                infos[index]["terminal_observation"] = observations[index].copy()
                infos[index]["TimeLimit.truncated"] = bool(truncated[index] and not terminated[index])
            observations = observations.copy()
            reset_observations, _ = self.pool.reset(finished.astype(np.int32))
            observations[finished] = reset_observations
        return observations, rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        self.pool.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        raise NotImplementedError(f"envpool environments have no per-environment method {method_name!r}")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def seed(self, seed: int | None = None) -> list[None]:  # envpool is seeded at construction
        return [None] * self.num_envs


def make_procgen(env_id: str, n_envs: int, seed: int | None, training: bool) -> VecEnv:
    """Training on levels ``[0, 200)``; evaluation on unseen levels, from ``TEST_START_LEVEL`` on."""
    seed = 0 if seed is None else seed
    if training:
        env = EnvpoolVecEnv(env_id, n_envs, seed, num_levels=TRAIN_LEVELS, start_level=0)
    else:
        env = EnvpoolVecEnv(env_id, n_envs, seed, num_levels=0, start_level=TEST_START_LEVEL)
    return VecMonitor(env)
