"""Learning curves (the student's periodic evaluations, ``evaluations.csv``, as fractions of its teacher's
evaluation score): IQM over runs with 95% bootstrap bands, the steps each run needs to reach 90%, and
the returns at chosen steps (``report --at``).

Curves come from evaluations rather than training episodes: teacher-distill's training episodes are
the teacher's own, and training episodes of the other methods are played with sampled actions.
"""

from __future__ import annotations

import os

import numpy as np

from sb3_distill.report.statistics import iqm, stratified_bootstrap_ci
from sb3_distill.report.tables import SIZE_ORDER, Run, _ordered, ordered_methods, score_text
from sb3_distill.runs.periodic_evaluation import EVALUATIONS, read_evaluation_rows

GRID_POINTS = 50
TARGET = 0.9


def read_evaluations(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """Timesteps and mean returns of the run's periodic evaluations, in file order (empty without any).

    :raises DamagedRecord: a row of ``evaluations.csv`` is damaged (cut short, a value missing or not a
        number); the message names the file and the line
    """
    try:
        rows = read_evaluation_rows(os.path.join(run.folder, EVALUATIONS), ("timesteps", "mean_return"))
    except FileNotFoundError:
        return np.zeros(0), np.zeros(0)
    return np.array([row["timesteps"] for row in rows], dtype=float), np.array([row["mean_return"] for row in rows])


def read_curve(run: Run) -> tuple[np.ndarray, np.ndarray]:
    """Timesteps and returns as fractions of the run's teacher score (empty when the run saw no episode)."""
    if run.teacher_return <= 0:  # no meaningful fraction
        return np.zeros(0), np.zeros(0)
    steps, returns = read_evaluations(run)
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


def returns_at(run: Run, steps: list[int]) -> np.ndarray:
    """The run's evaluation return (Atari: human-normalised) at its first evaluation at or after each of
    ``steps``; NaN where it has none that late."""
    timesteps, returns = read_evaluations(run)
    later = [np.flatnonzero(timesteps >= step) for step in steps]
    return np.array([run.score(float(returns[i[0]])) if i.size else np.nan for i in later])


def mean_interval(values: np.ndarray, reps: int) -> tuple[float, float]:
    """95% bootstrap interval of the mean of ``values``, one score per run."""
    return stratified_bootstrap_ci(np.asarray(values, dtype=float)[:, None], lambda x: float(np.mean(x)), reps=reps)


def checkpoint_table(runs: list[Run], steps: list[int], reps: int = 2000) -> str:
    """Markdown: per environment, student size and step, each method's mean evaluation return over seeds
    with its 95% bootstrap interval, read from the evaluations during training (``returns_at``)."""
    at = {run: returns_at(run, steps) for run in runs}  # each evaluations.csv read once
    methods = ordered_methods({r.method for r in runs})
    lines = ["| env | size | step | " + " | ".join(methods) + " |", "|" + " --- |" * (3 + len(methods))]
    for env in sorted({r.env for r in runs}):
        for size in _ordered({r.student for r in runs if r.env == env}, SIZE_ORDER):
            for k, step in enumerate(steps):
                cells = []
                for method in methods:
                    values = np.array([at[r][k] for r in runs if (r.env, r.student, r.method) == (env, size, method)])
                    values = values[np.isfinite(values)]
                    if not values.size:
                        cells.append("")
                        continue
                    low, high = mean_interval(values, reps)
                    cells.append(
                        f"{score_text(float(values.mean()))} [{score_text(low)}, {score_text(high)}] (n={values.size})"
                    )
                lines.append(f"| {env} | {size} | {step:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
