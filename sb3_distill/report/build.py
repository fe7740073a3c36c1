"""``report.md`` and PNG figures for a grid's output folder."""

from __future__ import annotations

import os

from sb3_distill.report.curves import checkpoint_table, plot_curves, steps_table
from sb3_distill.report.tables import SIZE_ORDER, _ordered, read_runs, table_1, table_5, throughput


def build_report(out: str, reps: int = 2000, at: list[int] | None = None) -> str:
    """Write ``out/report.md`` and ``out/figures/*.png``; return the report's path.

    :param out: a grid's output folder
    :param reps: bootstrap replications of the confidence intervals
    :param at: steps at which to tabulate every method's evaluation return, per environment and size
    """
    runs = read_runs(out)
    if not runs:
        raise ValueError(f"No finished runs under {out!r} (runs/**/done.json); run `sb3-distill bench` first.")
    figures = os.path.join(out, "figures")
    os.makedirs(figures, exist_ok=True)
    variants = sorted({run.variant for run in runs} - {"no-teacher"}) or ["no-teacher"]
    sections = [
        "# Benchmark report",
        "",
        f"{len(runs)} finished runs; environments: {', '.join(sorted({r.env for r in runs}))}.",
        "",
    ]
    for variant in variants:
        sections += [
            f"## Table 1 format: student score / teacher score ({variant} teachers)",
            "",
            "Geometric IQM over environments x seeds, 95% stratified-bootstrap interval in brackets "
            "(Atari: human-normalised scores).",
            "",
            table_1(runs, variant, reps),
            "",
            f"## Table 5 format: mean evaluation return per environment ({variant} teachers)",
            "",
            table_5(runs, variant),
            "",
        ]
    sections += ["## Learning curves", ""]
    for suite in sorted({r.suite for r in runs}):
        for size in _ordered({r.student for r in runs}, SIZE_ORDER):
            name = f"curves-{suite}-{size}.png"
            plot_curves(
                [r for r in runs if r.variant in (variants[0], "no-teacher")], suite, size, os.path.join(figures, name)
            )
            sections += [f"![{suite}, {size}](figures/{name})", ""]
    if at:
        for variant in variants:
            chosen = [r for r in runs if r.variant in (variant, "no-teacher")]
            sections += [
                f"## Evaluation returns at chosen steps ({variant} teachers)",
                "",
                "Mean over seeds of each run's first evaluation at or after the step, 95% bootstrap interval in "
                "brackets, n runs (Atari: human-normalised).",
                "",
                checkpoint_table(chosen, at, reps),
                "",
            ]
    sections += [
        "## Steps to reach 90% of the teacher's score",
        "",
        steps_table(runs),
        "",
        "## Throughput (environment steps per second of training)",
        "",
        throughput(runs),
        "",
    ]
    path = os.path.join(out, "report.md")
    with open(path, "w") as file:
        file.write("\n".join(sections))
    return path
