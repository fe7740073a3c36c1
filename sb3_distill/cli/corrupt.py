"""``sb3-distill corrupt``: write an imperfect copy of a teacher (paper §8.4: parameters + N(0, σ²) noise)."""

from __future__ import annotations

import argparse
from dataclasses import fields

from sb3_distill.corruption import PAPER_SIGMA
from sb3_distill.experiment import CorruptionConfig, corrupt

DEFAULTS = {field.name: field.default for field in fields(CorruptionConfig)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teacher", required=True, help="an SB3 .zip, an RL Zoo run folder, or hf://ORG/REPO")
    parser.add_argument(
        "--sigma",
        type=float,
        help=f"standard deviation of the noise (default: the paper's {PAPER_SIGMA}, unless --target-fraction is given)",
    )
    parser.add_argument(
        "--target-fraction",
        type=float,
        help="learn sigma instead: the noise whose copy keeps this fraction, in (0, 1), of the teacher's score above "
        "a random policy's, searched by evaluation (sigma 0.05 hardly hurts small MLP teachers)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULTS["tolerance"],
        help="with --target-fraction: accept a fraction within this of the target",
    )
    parser.add_argument(
        "--max-evaluations",
        type=int,
        default=DEFAULTS["max_evaluations"],
        help="with --target-fraction: the most sigma values the search evaluates",
    )
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
        target_fraction=args.target_fraction,
        tolerance=args.tolerance,
        max_evaluations=args.max_evaluations,
    )
    return corrupt(config, args.out, command=args.command_line).record
