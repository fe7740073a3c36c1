"""``report.md`` and PNG figures for a grid's output folder."""

from __future__ import annotations

import os

from sb3_distill.report.curves import checkpoint_table, figure_name, plot_curves, steps_table
from sb3_distill.report.frontier import (
    LATENCY_FILE,
    frontier_envs,
    frontier_name,
    frontier_points,
    frontier_table,
    latencies,
    network_name,
    plot_frontier,
)
from sb3_distill.report.imperfect import imperfect_runs, imperfect_variants, original_scores, table_2
from sb3_distill.report.memory import memory_table, sweeps_memory
from sb3_distill.report.random_scores import random_scores, random_scores_text, with_random_scores
from sb3_distill.report.statistics import DEFAULT_REPS, MIN_SCORES_FOR_IQM, MIN_SEEDS_FOR_INTERVAL
from sb3_distill.report.tables import SIZE_ORDER, _ordered, read_runs, table_1, table_5, teacher_variants, throughput


def build_report(out: str, reps: int = DEFAULT_REPS, at: list[int] | None = None) -> str:
    """Write ``out/report.md`` and ``out/figures/*.png``; return the report's path.

    Every table and figure is made per teacher variant (``original``, ``corrupted0.05``, ...), each with the
    no-teacher baseline. Where some run's teacher score is not positive, the random policy's score on its
    environment is read from ``out/random_scores.json``, or measured and written there. Each corrupted
    variant also has a table of fractions of the original teacher's score (the paper's Table 2), read from
    its teachers' records (``out/teachers/ENV/sSEED-VARIANT/config.json``).

    :param out: a grid's output folder
    :param reps: bootstrap replications of the confidence intervals (rliable's default, 50,000)
    :param at: steps at which to tabulate every method's evaluation return, per environment and size
    :raises FileNotFoundError: a corrupted teacher's record is missing
    :raises DamagedRecord: a record is damaged, or a corrupted teacher's lacks its original's score
    """
    runs = read_runs(out)
    if not runs:
        raise ValueError(f"No finished runs under {out!r} (runs/**/done.json); run `sb3-distill bench` first.")
    originals = original_scores(out, runs)
    # fractions of the original teacher may need a random score that those of the run's own teacher do not
    randoms = random_scores(out, runs + imperfect_runs(runs, originals))
    runs = with_random_scores(runs, randoms)
    figures = os.path.join(out, "figures")
    os.makedirs(figures, exist_ok=True)
    variants = teacher_variants(runs)
    sections = [
        "# Benchmark report",
        "",
        f"{len(runs)} finished runs; environments: {', '.join(sorted({r.env for r in runs}))}; "
        f"teacher variants: {', '.join(variants)}.",
        "",
        f"Intervals are 95% percentile intervals of a stratified bootstrap (runs resampled within each environment) "
        f"with {reps:,} replications, given only where every environment has at least {MIN_SEEDS_FOR_INTERVAL} seeds.",
        "",
    ]
    if randoms:
        sections += [random_scores_text(randoms), ""]
    for variant in variants:
        sections += [
            f"## Table 1 format: student score / teacher score ({variant} teachers)",
            "",
            "Geometric IQM over environments x seeds of each run's fraction of its teacher's score, 95% "
            f"stratified-bootstrap interval ({reps:,} replications) in brackets, n: the scores a cell aggregates "
            f"(an IQM needs at least {MIN_SCORES_FOR_IQM}). Atari: human-normalised scores.",
            "",
            table_1(runs, variant, reps),
            "",
            f"## Table 5 format: mean evaluation return per environment ({variant} teachers)",
            "",
            table_5(runs, variant),
            "",
        ]
        if sweeps_memory(runs):
            sections += [
                f"## The students' memory ({variant} teachers)",
                "",
                "Table 1's cells by the students' memory: one row per method, one column per memory (no memory, "
                "the last N observations stacked: frame_stack=N, an LSTM: recurrent=True).",
                "",
                memory_table(runs, variant, reps),
                "",
            ]
    for variant in imperfect_variants(runs):
        sections += [
            f"## Table 2 format: fractions of the original teacher's score ({variant} teachers)",
            "",
            "Every column as a fraction of the original teacher's score, the teacher the corrupted copy was made "
            "from (the paper's Table 2; per environment, its Table 6). original teacher: its mean return over "
            "seeds, as `corrupt` evaluated it on the runs' evaluation seeds and episodes (original_mean_return in "
            f"the {variant} teacher's config.json); corrupted teacher: the {variant} copy's score as its runs "
            "evaluated it. Suite rows as Table 1: geometric IQM over environments x seeds, 95% stratified-bootstrap "
            f"interval ({reps:,} replications) in brackets, n scores; environment rows: the mean over seeds of each "
            "seed's fraction. Atari: human-normalised scores (the original teacher's column: its raw return).",
            "",
            table_2(runs, variant, originals, reps),
            "",
        ]
    for variant in variants:
        sections += [
            f"## Learning curves ({variant} teachers)",
            "",
            "IQM over environments x seeds of the evaluations during training as fractions of the teacher's score "
            f"(as in Table 1), with a 95% stratified-bootstrap band ({reps:,} replications).",
            "",
        ]
        without_band = False
        for suite in sorted({r.suite for r in runs}):
            for size in _ordered({r.student for r in runs}, SIZE_ORDER):
                name = figure_name(variant, suite, size)
                without_band |= plot_curves(runs, suite, size, os.path.join(figures, name), variant, reps)
                sections += [f"![{suite}, {size}, {variant} teachers](figures/{name})", ""]
        normalised = sorted({r.env for r in runs if (r.variant == variant or r.baseline) and r.random_normalised})
        if normalised:
            sections += [
                f"Runs whose teacher's score is not positive ({', '.join(normalised)}) enter the curves "
                "random-normalised, as in Table 1 (‡).",
                "",
            ]
        if without_band:
            sections += [
                f"Curves without a band: an environment has fewer than {MIN_SEEDS_FOR_INTERVAL} seeds, and a band "
                "from 2 runs is only their minimum and maximum.",
                "",
            ]
    if at:
        for variant in variants:
            chosen = [r for r in runs if r.variant == variant or r.baseline]
            sections += [
                f"## Evaluation returns at chosen steps ({variant} teachers)",
                "",
                f"Mean over seeds of each run's first evaluation at or after the step, 95% bootstrap interval ({reps:,} "
                "replications) in brackets, n runs (Atari: human-normalised).",
                "",
                checkpoint_table(chosen, at, reps),
                "",
            ]
    for variant in variants:
        sections += [
            f"## Steps to reach 90% of the teacher's score ({variant} teachers)",
            "",
            "Median over the runs that reach it of the first evaluation at or above 0.9x the teacher's score "
            "(the fractions of Table 1).",
            "",
            steps_table(runs, variant),
            "",
        ]
    sections += _frontier_sections(out, runs, figures)
    sections += [
        "## Throughput (environment steps per second of training, every teacher variant)",
        "",
        throughput(runs),
        "",
    ]
    path = os.path.join(out, "report.md")
    with open(path, "w") as file:
        file.write("\n".join(sections))
    return path


def _frontier_sections(out: str, runs: list, figures: str) -> list[str]:
    """Per environment: return against parameters and batch-1 latency, each size and method and the teacher.

    Only students of original teachers enter, so that the teacher's row is the teacher they learned from; a
    grid of corrupted teachers alone gets one sentence instead of tables of its no-teacher baseline.
    """
    envs = frontier_envs(runs)
    if not envs:
        return [
            "## Size, latency and return",
            "",
            "Not tabulated: this section compares the students of original teachers, and this grid has none.",
            "",
        ]
    record = latencies(out, runs)
    settings = record.get("settings")
    sections = [
        "## Size, latency and return (original teachers)",
        "",
        "Per environment, one row per network and method: the policy's parameters, the median latency of one "
        "deterministic action for one observation (the exported ONNX graph through onnxruntime, and SB3's "
        "`predict`), and the mean evaluation return over seeds (n). Latency depends on the network only: it is "
        f"measured once per network on an untrained copy of the runs' architecture and kept in `{LATENCY_FILE}`"
        + (
            f" (measured {settings['measured']}: {settings['machine']}, {settings['cpus']} CPUs, 1 thread, "
            f"{settings['repeats']} calls, torch {settings['torch']}, onnxruntime {settings['onnxruntime']})."
            if settings
            else "; nothing is measured without onnxruntime (pip install 'sb3-distill[export]')."
        )
        + (
            " A student that reads less than the teacher or has memory is rebuilt with its run's view, frame stack "
            "and LSTM (an LSTM timed from a zero state)."
            if any(network_name(run) != run.student for run in runs if run.env in envs)
            else ""
        ),
        "",
    ]
    for env in envs:
        points = frontier_points(runs, record, env)
        sections += [f"### {env}", "", frontier_table(points), ""]
        name = frontier_name(env)
        if plot_frontier(points, env, os.path.join(figures, name)):
            sections += [f"![{env}: return against latency and parameters](figures/{name})", ""]
    return sections
