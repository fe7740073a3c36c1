"""Train the small off-policy teachers that the learning tests distil from, and save them here.

DQN, SAC, TD3 and RecurrentPPO are too slow to train inside the test suite on 2 CPU cores, and DQN's
return on CartPole swings from run to run, so the tests use these saved teachers. Each is the best of periodic
evaluations (SB3's ``EvalCallback``), with RL Zoo hyperparameters and [64, 64] networks.

    python tests/teachers/train.py            # all; a few minutes on 2 cores
    python tests/teachers/train.py dqn
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import gymnasium as gym
import numpy as np
import torch as th
from sb3_contrib import RecurrentPPO
from stable_baselines3 import DQN, SAC, TD3
from stable_baselines3.common.callbacks import EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.noise import NormalActionNoise

HERE = os.path.dirname(os.path.abspath(__file__))
#: CartPole's cart position and pole angle: a teacher or student without the velocities needs memory.
POSITIONS = [0, 2]


def cartpole_positions() -> gym.Env:
    from sb3_distill.envs.partial import SelectObservation

    return SelectObservation(gym.make("CartPole-v1"), POSITIONS)


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
    # rl-baselines3-zoo hyperparams/ppo_lstm.yml (CartPoleNoVel-v1): CartPole without velocities, so the teacher
    # needs its LSTM; the recurrent-teacher tests distil it
    "rppo": (
        "CartPolePositions",
        RecurrentPPO,
        100_000,
        dict(
            n_steps=32,
            batch_size=256,
            gae_lambda=0.8,
            gamma=0.98,
            n_epochs=20,
            ent_coef=0.0,
            learning_rate=1e-3,
            policy_kwargs=dict(
                ortho_init=False,
                activation_fn=th.nn.ReLU,
                lstm_hidden_size=64,
                enable_critic_lstm=True,
                net_arch=dict(pi=[64], vf=[64]),
            ),
        ),
    ),
}
#: Environments of the teachers that are not Gymnasium ids, and the vectorised environments' sizes.
MAKERS = {"CartPolePositions": cartpole_positions}
N_ENVS = {"rppo": 8}


def train(name: str, seed: int = 0) -> None:
    env_id, algorithm, steps, hyperparams = TEACHERS[name]
    make = MAKERS.get(env_id, env_id)
    policy = "MlpLstmPolicy" if algorithm is RecurrentPPO else "MlpPolicy"
    model = algorithm(policy, make_vec_env(make, n_envs=N_ENVS.get(name, 1), seed=seed), seed=seed, **hyperparams)
    with tempfile.TemporaryDirectory() as folder:
        evaluation = EvalCallback(
            make_vec_env(make, n_envs=1, seed=seed + 100),
            n_eval_episodes=20,
            eval_freq=5000,
            best_model_save_path=folder,
            verbose=0,
        )
        model.learn(steps, callback=evaluation)
        target = os.path.join(HERE, f"{name}-{env_id}.zip")
        shutil.copy(os.path.join(folder, "best_model.zip"), target)
    best = algorithm.load(target)
    mean, std = evaluate_policy(best, make_vec_env(make, n_envs=1, seed=seed + 200), n_eval_episodes=20)
    print(f"{target}: mean return {mean:.1f} +/- {std:.1f} over 20 episodes ({os.path.getsize(target) / 1024:.0f} kB)")


if __name__ == "__main__":
    th.set_num_threads(1)  # small networks: one thread is faster than two contending ones
    for name in sys.argv[1:] or list(TEACHERS):
        train(name)
