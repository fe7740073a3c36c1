"""``sb3-distill corrupt``: write an imperfect copy of a teacher (paper §8.4: parameters + N(0, σ²) noise)."""

from __future__ import annotations

import argparse
from sb3_distill.corruption import PAPER_SIGMA
from sb3_distill.experiment import CorruptionConfig, corrupt


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teacher", required=True, help="an SB3 .zip, an RL Zoo run folder, or hf://ORG/REPO")
    parser.add_argument("--sigma", type=float, default=PAPER_SIGMA, help="standard deviation of the noise (paper: 0.05)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise")
    parser.add_argument("--out", required=True, help="path of the corrupted .zip")
    parser.add_argument("--best", action="store_true", help="RL Zoo folder: corrupt best_model.zip")
    parser.add_argument("--env", help="Gymnasium id, to evaluate both teachers (default: read from the teacher)")
    parser.add_argument("--eval-episodes", type=int, default=20, help="episodes of each evaluation")
    parser.add_argument("--trust-pickle", action="store_true", help="read teacher files without the allow-list")


def run(args: argparse.Namespace) -> dict:
    config = CorruptionConfig(
        teacher=args.teacher,
        sigma=args.sigma,
        seed=args.seed,
        env=args.env,
        eval_episodes=args.eval_episodes,
        best=args.best,
        trust_pickle=args.trust_pickle,
    )
    return corrupt(config, args.out, command=args.command_line).record
