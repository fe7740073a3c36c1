"""Environment steps per second of PPO, PPD, student-distill and teacher-distill, measured side by side.

All four use the same student network and the same settings (n_envs, n_steps, batch_size, n_epochs);
the teacher has the same architecture. Each measurement is one rollout plus one update, and the
methods take turns measurement by measurement, so that slow phases of a noisy machine hit them alike;
rates are total steps over total time. The speed of a teacher does not depend on
its training, so it is left untrained.

    python benchmarks/throughput.py                       # CartPole-v1, [256, 256], n_epochs=10
    python benchmarks/throughput.py --env Pendulum-v1 --repeats 10
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_distill import PPD, StudentDistill, TeacherDistill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--net-arch", default="256,256")
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--n-steps", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=20, help="measurements per method")
    parser.add_argument("--threads", type=int, default=th.get_num_threads())
    args = parser.parse_args()
    th.set_num_threads(args.threads)

    net_arch = [int(width) for width in args.net_arch.split(",")]
    policy_kwargs = {"net_arch": {"pi": net_arch, "vf": net_arch}}
    settings = dict(n_steps=args.n_steps, policy_kwargs=policy_kwargs, seed=0, device="cpu")
    teacher = PPO("MlpPolicy", make_vec_env(args.env, n_envs=1), **settings)

    def build(name: str):
        env = make_vec_env(args.env, n_envs=args.n_envs, seed=0)
        if name == "PPO":
            return PPO("MlpPolicy", env, batch_size=args.batch_size, n_epochs=args.n_epochs, **settings)
        model: PPD | StudentDistill | TeacherDistill
        if name == "PPD":
            model = PPD("MlpPolicy", env, batch_size=args.batch_size, n_epochs=args.n_epochs, **settings)
        else:
            model = {"student-distill": StudentDistill, "teacher-distill": TeacherDistill}[name]("MlpPolicy", env, **settings)
        model.set_teacher(teacher)
        return model

    names = ["PPO", "PPD", "student-distill", "teacher-distill"]
    models = {name: build(name) for name in names}
    for model in models.values():  # warm-up: allocations, first rollout
        model.learn(args.n_envs * args.n_steps)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    steps = args.n_envs * args.n_steps
    for _ in range(args.repeats):
        for name in names:
            start = time.perf_counter()
            models[name].learn(steps, reset_num_timesteps=False)
            seconds[name].append(time.perf_counter() - start)

    print(
        f"env={args.env} net_arch={net_arch} (teacher and student) n_envs={args.n_envs} n_steps={args.n_steps} "
        f"batch_size={args.batch_size} n_epochs={args.n_epochs} measurements={args.repeats} x {steps} steps "
        f"torch threads={th.get_num_threads()}"
    )
    rate = {name: steps * len(values) / sum(values) for name, values in seconds.items()}
    print(f"{'method':<18}{'steps/s':>10}{'ratio to PPO':>15}")
    for name in names:
        print(f"{name:<18}{rate[name]:>10.0f}{rate[name] / rate['PPO']:>15.3f}")
    paired = sorted(ppo / ppd for ppd, ppo in zip(seconds["PPD"], seconds["PPO"], strict=True))
    quartiles = statistics.quantiles(paired, n=4)
    print(
        f"PPD/PPO per measurement: median {statistics.median(paired):.3f}, interquartile {quartiles[0]:.3f}-{quartiles[2]:.3f}"
    )


if __name__ == "__main__":
    main()
