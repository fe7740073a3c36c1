"""Train the small off-policy teachers that the learning tests distil from, and save them here.

DQN and SAC are too slow to train inside the test suite on 2 CPU cores, and DQN's return on CartPole
swings from run to run, so the tests use these saved teachers. Each is the best of periodic
evaluations (SB3's ``EvalCallback``), with RL Zoo hyperparameters and [64, 64] networks.

    python tests/teachers/train.py            # all; a few minutes on 2 cores
    python tests/teachers/train.py dqn
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import numpy as np
import torch as th
from stable_baselines3 import DQN, SAC, TD3
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.noise import NormalActionNoise

HERE = os.path.dirname(os.path.abspath(__file__))

TEACHERS = {
    # rl-baselines3-zoo hyperparams/dqn.yml (CartPole-v1), smaller network
    "dqn": (
        "CartPole-v1",
        DQN,
        100_000,
        dict(
            learning_rate=2.3e-3,
            batch_size=64,
            buffer_size=100_000,
            learning_starts=1000,
            gamma=0.99,
            target_update_interval=10,
            train_freq=256,
            gradient_steps=128,
            exploration_fraction=0.16,
            exploration_final_eps=0.04,
            policy_kwargs=dict(net_arch=[128, 128]),
        ),
    ),
    # rl-baselines3-zoo hyperparams/sac.yml (Pendulum-v1), smaller network
    "sac": ("Pendulum-v1", SAC, 15_000, dict(learning_rate=1e-3, policy_kwargs=dict(net_arch=[64, 64]))),
    # rl-baselines3-zoo hyperparams/td3.yml (Pendulum-v1), smaller network
    "td3": (
        "Pendulum-v1",
        TD3,
        20_000,
        dict(
            learning_rate=1e-3,
            gamma=0.98,
            buffer_size=200_000,
            learning_starts=10_000,
            action_noise=NormalActionNoise(np.zeros(1), 0.1 * np.ones(1)),
            policy_kwargs=dict(net_arch=[64, 64]),
        ),
    ),
}


def train(name: str, seed: int = 0) -> None:
    env_id, algorithm, steps, hyperparams = TEACHERS[name]
    model = algorithm("MlpPolicy", make_vec_env(env_id, n_envs=1, seed=seed), seed=seed, **hyperparams)
    with tempfile.TemporaryDirectory() as folder:
        evaluation = EvalCallback(
            make_vec_env(env_id, n_envs=1, seed=seed + 100),
            n_eval_episodes=20,
            eval_freq=5000,
            best_model_save_path=folder,
            verbose=0,
        )
        model.learn(steps, callback=evaluation)
        target = os.path.join(HERE, f"{name}-{env_id}.zip")
        shutil.copy(os.path.join(folder, "best_model.zip"), target)
    best = algorithm.load(target)
    mean, std = evaluate_policy(best, make_vec_env(env_id, n_envs=1, seed=seed + 200), n_eval_episodes=20)
    print(f"{target}: mean return {mean:.1f} +/- {std:.1f} over 20 episodes ({os.path.getsize(target) / 1024:.0f} kB)")


if __name__ == "__main__":
    th.set_num_threads(1)  # small networks: one thread is faster than two contending ones
    for name in sys.argv[1:] or list(TEACHERS):
        train(name)
