"""``sb3-distill corrupt``: write an imperfect copy of a teacher (paper §8.4: parameters + N(0, σ²) noise)."""

from __future__ import annotations

import argparse
import json
import os

from sb3_distill import envs
from sb3_distill.cli.evaluation import score
from sb3_distill.common.teacher_sources import CONFIG_FILE, load_teacher, teacher_env_id
from sb3_distill.corruption import PAPER_SIGMA, corrupt_model_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teacher", required=True, help="an SB3 .zip, an RL Zoo run folder, or hf://ORG/REPO")
    parser.add_argument("--sigma", type=float, default=PAPER_SIGMA, help="standard deviation of the noise (paper: 0.05)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise")
    parser.add_argument("--out", required=True, help="path of the corrupted .zip")
    parser.add_argument("--best", action="store_true", help="RL Zoo folder: corrupt best_model.zip")
    parser.add_argument("--env", help="Gymnasium id, to evaluate both teachers (default: read from the teacher)")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--trust-pickle", action="store_true", help="read teacher files without the allow-list")


def run(args: argparse.Namespace) -> dict:
    if args.sigma < 0:
        raise ValueError(f"--sigma must be >= 0, got {args.sigma}.")
    out = corrupt_model_file(args.teacher, args.out, args.sigma, args.seed, best=args.best)
    env_id = args.env or teacher_env_id(args.teacher)
    config = {
        "command": args.command_line,
        "env": env_id,
        "corrupted_from": args.teacher,
        "sigma": args.sigma,
        "seed": args.seed,
    }
    print(f"corrupted teacher written to {out}")
    if env_id is not None:
        for name, source in (("original", args.teacher), ("corrupted", out)):
            env = envs.make(env_id, 1, args.seed + 10_000, normalize=False, training=False)
            teacher = load_teacher(source, env=env, best=args.best and name == "original", trust_pickle=args.trust_pickle)
            result = score(teacher, env, args.eval_episodes)
            config[f"{name}_mean_return"] = result.mean
            print(f"{name} teacher mean return over {result.episodes} episodes: {result.mean:.1f} +/- {result.std:.1f}")
    with open(os.path.join(os.path.dirname(os.path.abspath(out)), CONFIG_FILE), "w") as file:
        json.dump(config, file, indent=2)
    return config
