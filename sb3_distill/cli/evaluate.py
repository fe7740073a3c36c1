"""``sb3-distill evaluate``: a student's or teacher's returns under the suite's protocol, optionally with videos."""

from __future__ import annotations

import argparse

from sb3_distill.deploy.evaluate import EvaluationResult, evaluate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a distill run folder, a train-teacher folder, an RL Zoo run folder, or an SB3 .zip")
    parser.add_argument("--episodes", type=int, default=20, help="number of evaluation episodes")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="run seed of the evaluation environment, seeded SEED + 10000 (default: the seed the folder's run "
        "recorded, else 0; with it and the run's episodes, a run folder's mean return is its results.json's)",
    )
    parser.add_argument("--env", help="Gymnasium id, for a zip whose folder does not record its environment")
    parser.add_argument("--best", action="store_true", help="evaluate the folder's best_model.zip")
    parser.add_argument(
        "--stochastic",
        action="store_true",
        help="sample actions (default: the suite's protocol, deterministic but on Procgen)",
    )
    parser.add_argument(
        "--video", metavar="DIR", help="record the first episodes as mp4 files in DIR (classic control, Box2D, MuJoCo)"
    )
    parser.add_argument("--video-episodes", type=int, default=1, help="how many episodes --video records")
    parser.add_argument("--trust-pickle", action="store_true", help="read the files without the allow-list")


def run(args: argparse.Namespace) -> EvaluationResult:
    result = evaluate(
        args.source,
        episodes=args.episodes,
        seed=args.seed,
        env=args.env,
        best=args.best,
        deterministic=False if args.stochastic else None,
        video_dir=args.video,
        video_episodes=args.video_episodes,
        trust_pickle=args.trust_pickle,
    )
    print(summary(result))
    return result


def summary(result: EvaluationResult) -> str:
    actions = "deterministic" if result.deterministic else "stochastic"
    rows = [
        ("source", result.source),
        ("env", f"{result.env_id} (seed {result.seed}, {actions} actions)"),
        ("episodes", f"{result.episodes} (mean length {sum(result.episode_lengths) / result.episodes:.1f})"),
        ("return", f"{result.mean:.2f} ± {result.std:.2f}"),
    ]
    rows.extend(("video", path) for path in result.videos)
    return "\n".join(f"{name:<9} {value}" for name, value in rows)
