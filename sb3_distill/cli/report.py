"""``sb3-distill report DIR``: the paper's tables and figures for a grid's output folder."""

from __future__ import annotations

import argparse

from sb3_distill.report.build import build_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="a grid's output folder (the --out of sb3-distill bench)")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap replications of the confidence intervals")


def run(args: argparse.Namespace) -> str:
    path = build_report(args.out, args.reps)
    print(f"report written to {path}")
    return path
