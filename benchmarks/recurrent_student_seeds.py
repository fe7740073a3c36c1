"""The recurrent student of the RecurrentPPO teacher (CartPole without velocities) over seeds and thread counts.

Prints, per run: threads, seed, steps, the student's mean return over 20 episodes and its fraction of the
teacher's (387 on these episodes). The settings are those of tests/test_recurrent_teachers.py.

    python benchmarks/recurrent_student_seeds.py --seeds 0 1 2 --steps 60000 --threads 1
"""

from __future__ import annotations

import argparse
import os

import gymnasium as gym
import torch as th
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_distill import load_teacher
from sb3_distill.envs.partial import SelectObservation
from sb3_distill.recurrent import RecurrentPPD

TEACHER = os.path.join(os.path.dirname(__file__), "..", "tests", "teachers", "rppo-CartPolePositions.zip")


def positions(n_envs: int, seed: int):
    return make_vec_env(lambda: SelectObservation(gym.make("CartPole-v1"), [0, 2]), n_envs, seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=60_000)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    th.set_num_threads(args.threads)
    teacher = load_teacher(TEACHER)
    teacher_return, _ = evaluate_policy(teacher, positions(1, 100), n_eval_episodes=20)
    for seed in args.seeds:
        model = RecurrentPPD(  # the settings of tests/test_recurrent_students.py's LSTM_STUDENT
            "MlpLstmPolicy",
            positions(8, seed),
            teacher=teacher,
            n_steps=32,
            batch_size=256,
            n_epochs=10,
            learning_rate=lambda progress_remaining: 1e-3 * progress_remaining,
            seed=seed,
            device="cpu",
            policy_kwargs=dict(lstm_hidden_size=64, enable_critic_lstm=False, net_arch=[64], ortho_init=False),
        )
        model.learn(args.steps)
        student_return, _ = evaluate_policy(model, positions(1, 100), n_eval_episodes=20)
        print(args.threads, seed, args.steps, f"{student_return:.1f}", f"{student_return / teacher_return:.3f}", flush=True)


if __name__ == "__main__":
    main()
