"""``sb3-distill report DIR``: the paper's tables and figures for a grid's output folder."""

from __future__ import annotations

import argparse

from sb3_distill.report.build import build_report
from sb3_distill.report.statistics import DEFAULT_REPS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="a grid's output folder (the --out of sb3-distill bench)")
    parser.add_argument(
        "--reps",
        type=positive_int,
        default=DEFAULT_REPS,
        help="bootstrap replications of the confidence intervals (rliable's default)",
    )
    parser.add_argument(
        "--at",
        type=parse_steps,
        metavar="STEPS",
        help="also tabulate evaluation returns at these steps, per environment and size: e.g. 250k,500k,1M",
    )


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def parse_steps(text: str) -> list[int]:
    """``"250k,500k,1M"`` -> ``[250000, 500000, 1000000]``."""
    steps = []
    for part in text.split(","):
        part = part.strip()
        scale = {"k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000}.get(part[-1:], 1)
        try:
            value = float(part[:-1] if scale > 1 else part) * scale
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected steps such as 250k,500k,1M or 250000, got {text!r}") from None
        if value <= 0 or value != int(value):
            raise argparse.ArgumentTypeError(f"expected whole positive steps such as 250k,500k,1M, got {part!r}")
        steps.append(int(value))
    return steps


def run(args: argparse.Namespace) -> str:
    path = build_report(args.out, args.reps, args.at)
    print(f"report written to {path}")
    return path
