"""Learning curves (the student's periodic evaluations, ``evaluations.csv``, as fractions of its teacher's
evaluation score): IQM over runs with 95% bootstrap bands, the steps each run needs to reach 90%, and
the returns at chosen steps (``report --at``).

Curves come from evaluations rather than training episodes: teacher-distill's training episodes are
the teacher's own, and training episodes of the other methods are played with sampled actions.
"""

from __future__ import annotations

import csv
import os

import numpy as np

from sb3_distill.report.statistics import iqm, stratified_bootstrap_ci
from sb3_distill.report.tables import SIZE_ORDER, Run, _ordered, ordered_methods, score_text
from sb3_distill.runs.periodic_evaluation import EVALUATIONS

GRID_POINTS = 50
TARGET = 0.9


def read_curve(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """Timesteps and returns as fractions of the run's teacher score (empty when the run saw no episode)."""
    path = os.path.join(run.folder, EVALUATIONS)
    if not os.path.exists(path):
        return np.zeros(0), np.zeros(0)
    with open(path) as file:
        rows = list(csv.DictReader(file))
    steps = np.array([float(row["timesteps"]) for row in rows])
    returns = np.array([float(row["mean_return"]) for row in rows])
    if run.teacher_return <= 0:  # no meaningful fraction
        return np.zeros(0), np.zeros(0)
    return steps, returns / run.teacher_return


def steps_to_target(run: Run, target: float = TARGET) -> float:
    """The first timestep at which the run's curve reaches ``target`` x the teacher's score (NaN: never)."""
    steps, fractions = read_curve(run)
    reached = np.flatnonzero(fractions >= target)
    return float(steps[reached[0]]) if reached.size else float("nan")


def curve_band(runs: list[Run], reps: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A common grid of timesteps, and the IQM with its 95% band of the runs' interpolated curves."""
    curves = [read_curve(run) for run in runs]
    curves = [(s, f) for s, f in curves if s.size]
    if not curves:
        empty = np.zeros(0)
        return empty, empty, empty, empty
    end = min(s[-1] for s, _ in curves)
    grid = np.linspace(min(s[0] for s, _ in curves), end, GRID_POINTS)
    values = np.array([np.interp(grid, s, f) for s, f in curves])  # [runs, points]
    centre, low, high = np.empty(GRID_POINTS), np.empty(GRID_POINTS), np.empty(GRID_POINTS)
    for i in range(GRID_POINTS):
        column = values[:, i : i + 1]
        centre[i] = iqm(column)
        low[i], high[i] = stratified_bootstrap_ci(column, iqm, reps=reps)
    return grid, centre, low, high


def plot_curves(runs: list[Run], suite: str, size: str, path: str) -> None:
    """One panel: every method's curve band for ``suite`` and student ``size``; the teacher's level dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for method in ordered_methods({r.method for r in runs}):
        chosen = [r for r in runs if r.suite == suite and r.student == size and r.method == method]
        grid, centre, low, high = curve_band(chosen)
        if grid.size:
            axes.plot(grid, centre, label=method)
            axes.fill_between(grid, low, high, alpha=0.25)
    axes.axhline(1.0, linestyle="--", color="black", label="teacher")
    axes.set_xlabel("environment steps")
    axes.set_ylabel("evaluation return / teacher score (IQM)")
    axes.set_title(f"{suite}, {size} students")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def steps_table(runs: list[Run]) -> str:
    """Markdown: median steps to reach 90% of the teacher's score, per suite, size and method."""
    lines = ["| suite | size | method | median steps to 90% | runs reaching it |", "| --- | --- | --- | --- | --- |"]
    for suite in sorted({r.suite for r in runs}):
        for size in _ordered({r.student for r in runs}, SIZE_ORDER):
            for method in ordered_methods({r.method for r in runs}):
                chosen = [r for r in runs if r.suite == suite and r.student == size and r.method == method]
                if not chosen:
                    continue
                steps = np.array([steps_to_target(r) for r in chosen])
                reached = steps[np.isfinite(steps)]
                median = f"{np.median(reached):,.0f}" if reached.size else "not reached"
                lines.append(f"| {suite} | {size} | {method} | {median} | {reached.size}/{len(chosen)} |")
    return "\n".join(lines)


def return_at(run: Run, step: int) -> float:
    """The run's evaluation return (Atari: human-normalised) at its first evaluation at or after ``step``;
    NaN when it has none that late."""
    path = os.path.join(run.folder, EVALUATIONS)
    if not os.path.exists(path):
        return float("nan")
    with open(path) as file:
        rows = [row for row in csv.DictReader(file) if float(row["timesteps"]) >= step]
    return run.score(float(rows[0]["mean_return"])) if rows else float("nan")


def checkpoint_table(runs: list[Run], steps: list[int], reps: int = 2000) -> str:
    """Markdown: per environment, student size and step, each method's mean evaluation return over seeds
    with its 95% bootstrap interval, read from the evaluations during training (``return_at``)."""
    methods = ordered_methods({r.method for r in runs})
    lines = ["| env | size | step | " + " | ".join(methods) + " |", "|" + " --- |" * (3 + len(methods))]
    for env in sorted({r.env for r in runs}):
        for size in _ordered({r.student for r in runs if r.env == env}, SIZE_ORDER):
            for step in steps:
                cells = []
                for method in methods:
                    values = np.array([return_at(r, step) for r in runs if (r.env, r.student, r.method) == (env, size, method)])
                    values = values[np.isfinite(values)]
                    if not values.size:
                        cells.append("")
                        continue
                    low, high = stratified_bootstrap_ci(values[:, None], lambda x: float(np.mean(x)), reps=reps)
                    cells.append(f"{score_text(float(values.mean()))} [{score_text(low)}, {score_text(high)}] (n={values.size})")
                lines.append(f"| {env} | {size} | {step:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
