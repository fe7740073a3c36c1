"""``sb3-distill train-teacher``: train a PPO teacher and save it where ``distill`` can find it."""

from __future__ import annotations

import argparse
import json
import os

from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill import envs
from sb3_distill.cli.evaluation import score
from sb3_distill.cli.hyperparams import TEACHER_DEFAULTS, parse_net_arch, parse_params
from sb3_distill.cli.output_dir import prepare_output_dir
from sb3_distill.common.teacher_sources import CONFIG_FILE, load_teacher
from sb3_distill.student_sizes import teacher_policy_kwargs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="Gymnasium environment id, e.g. CartPole-v1")
    parser.add_argument("--steps", type=int, required=True, help="environment steps of training")
    parser.add_argument("--out", required=True, help="folder for the teacher (<ENV>.zip, vecnormalize.pkl, tb/)")
    parser.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train behind VecNormalize (default: the suite's convention, e.g. on for MuJoCo; see README)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--policy", default=None, help="SB3 policy name (default: the suite's, MlpPolicy or CnnPolicy)")
    parser.add_argument(
        "--net-arch",
        help="hidden layer widths of actor and critic, e.g. 256,256 (default: the paper's network for MuJoCo, "
        "Atari, MinAtar and Procgen; SB3's 64,64 otherwise)",
    )
    parser.add_argument("--param", nargs="*", metavar="KEY=VALUE", help="PPO arguments, e.g. n_steps=64 gamma=0.98")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> dict:
    if args.steps <= 0:
        raise ValueError(f"--steps must be positive, got {args.steps}.")
    params = {**TEACHER_DEFAULTS, **parse_params(args.param)}
    suite = envs.suite_of(args.env)
    policy = args.policy or suite.policy
    policy_kwargs = {} if suite.name == "classic" else teacher_policy_kwargs(suite.name)
    policy_kwargs.update(params.pop("policy_kwargs", {}))
    net_arch = parse_net_arch(args.net_arch)
    if net_arch:
        policy_kwargs["net_arch"] = {"pi": net_arch, "vf": net_arch}
    env = envs.make(args.env, args.n_envs, args.seed, normalize=args.normalize)
    out = prepare_output_dir(args.out)

    model = PPO(policy, env, seed=args.seed, tensorboard_log=os.path.join(out, "tb"), policy_kwargs=policy_kwargs, **params)
    model.learn(args.steps, progress_bar=not args.no_progress, tb_log_name="teacher")

    model_path = os.path.join(out, f"{envs.env_slug(args.env)}.zip")  # the RL Zoo names namespaced ids so too
    model.save(model_path)
    normalized = isinstance(env, VecNormalize)
    if normalized:
        env.save(os.path.join(out, "vecnormalize.pkl"))
    teacher = load_teacher(model_path)
    evaluation_env = envs.make(args.env, 1, args.seed + 10_000, normalize=False, training=False)
    result = score(teacher, evaluation_env, args.eval_episodes, deterministic=suite.deterministic_eval)

    config = {
        "command": args.command_line,
        "env": args.env,
        "algo": "ppo",
        "steps": args.steps,
        "seed": args.seed,
        "n_envs": args.n_envs,
        "normalize": normalized,
        "policy": policy,
        "policy_kwargs": {"net_arch": policy_kwargs.get("net_arch")},
        "params": params,
        "eval_mean_return": result.mean,
        "eval_std_return": result.std,
        "eval_episodes": result.episodes,
    }
    with open(os.path.join(out, CONFIG_FILE), "w") as file:
        json.dump(config, file, indent=2)
    print(f"teacher saved to {model_path}")
    print(f"teacher mean return over {result.episodes} episodes: {result.mean:.1f} +/- {result.std:.1f}")
    return config
