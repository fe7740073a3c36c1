"""Learning curves (the student's periodic evaluations, ``evaluations.csv``, as fractions of its teacher's
evaluation score, :meth:`~sb3_distill.report.tables.Run.fractions`): IQM over environments x seeds with
95% stratified-bootstrap bands, the steps each run needs to reach 90%, and the returns at chosen steps
(``report --at``). Each is drawn or tabulated per teacher variant.

Curves come from evaluations rather than training episodes: teacher-distill's training episodes are
the teacher's own, and training episodes of the other methods are played with sampled actions.
"""

from __future__ import annotations

import os
import re

import numpy as np

from sb3_distill.report.memory import memory_styles, sweeps_memory
from sb3_distill.report.statistics import (
    DEFAULT_REPS,
    MIN_SEEDS_FOR_INTERVAL,
    bootstrap_replicates,
    percentile_interval,
    sample_iqm,
    sample_mean,
    stratified_bootstrap_ci,
)
from sb3_distill.report.tables import (
    RANDOM_MARK,
    SIZE_ORDER,
    Run,
    _ordered,
    baseline_note,
    of_variant,
    ordered_methods,
    random_normalisation_note,
    score_text,
)
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
    """Timesteps and returns as fractions of the run's teacher score, as Table 1 takes them (Atari:
    human-normalised; random-normalised where the teacher's score is not positive); empty when the run has
    no evaluation or no fraction."""
    steps, returns = read_evaluations(run)
    fractions = run.fractions(returns)
    if not np.all(np.isfinite(fractions)):  # no fraction: a teacher no better than random
        return np.zeros(0), np.zeros(0)
    return steps, fractions


def steps_to_target(run: Run, target: float = TARGET) -> float:
    """The first timestep at which the run's curve reaches ``target`` x the teacher's score (NaN: never)."""
    steps, fractions = read_curve(run)
    reached = np.flatnonzero(fractions >= target)
    return float(steps[reached[0]]) if reached.size else float("nan")


def curve_band(
    runs: list[Run], reps: int = DEFAULT_REPS
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """A common grid of timesteps, the IQM over environments x seeds of the runs' interpolated curves, and
    its 95% stratified-bootstrap band (runs resampled within each environment; ``None``, ``None`` with
    fewer than ``MIN_SEEDS_FOR_INTERVAL`` seeds of an environment). Environments with more seeds than
    others are cut to the fewest, as in Table 1."""
    by_env: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for run in sorted(runs, key=lambda r: (r.env, r.seed)):
        steps, fractions = read_curve(run)
        if steps.size:
            by_env.setdefault(run.env, []).append((steps, fractions))
    if not by_env:
        empty = np.zeros(0)
        return empty, empty, None, None
    seeds = min(len(curves) for curves in by_env.values())
    curves = [curve for env_curves in by_env.values() for curve in env_curves[:seeds]]
    grid = np.linspace(min(s[0] for s, _ in curves), min(s[-1] for s, _ in curves), GRID_POINTS)
    values = np.array([[np.interp(grid, s, f) for s, f in env_curves[:seeds]] for env_curves in by_env.values()]).transpose(
        1, 0, 2
    )  # [seeds, envs, points]
    centre = sample_iqm(values[None])[0]
    if seeds < MIN_SEEDS_FOR_INTERVAL:
        return grid, centre, None, None
    low, high = percentile_interval(bootstrap_replicates(values, sample_iqm, reps))
    return grid, centre, low, high


def figure_name(variant: str, suite: str, size: str) -> str:
    """``curves-VARIANT-SUITE-SIZE.png``, with anything but letters, digits and ``.=-`` replaced by ``_``."""
    return re.sub(r"[^\w.=-]", "_", f"curves-{variant}-{suite}-{size}") + ".png"


def plot_curves(runs: list[Run], suite: str, size: str, path: str, variant: str, reps: int = DEFAULT_REPS) -> bool:
    """One panel: every method's curve for ``suite``, student ``size`` and ``variant`` teachers (with the
    no-teacher baseline), with its band where there are enough seeds; the teacher's level dashed.

    :return: whether some curve was drawn without a band (fewer than ``MIN_SEEDS_FOR_INTERVAL`` seeds)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = of_variant(runs, variant)
    figure, axes = plt.subplots(figsize=(6, 4))
    without_band = False
    methods = ordered_methods({r.method for r in runs})
    styles = memory_styles(methods) if sweeps_memory(runs) else {}
    for method in methods:
        chosen = [r for r in runs if r.suite == suite and r.student == size and r.method == method]
        grid, centre, low, high = curve_band(chosen, reps)
        if grid.size:
            style = styles.get(method, {})
            axes.plot(grid, centre, label=method, **style)
            if low is None or high is None:
                without_band = True
            else:
                axes.fill_between(grid, low, high, alpha=0.25, **({"color": style["color"]} if style else {}))
    axes.axhline(1.0, linestyle="--", color="black", label="teacher")
    axes.set_xlabel("environment steps")
    axes.set_ylabel("fraction of the teacher's score (IQM)")
    axes.set_title(f"{suite}, {size} students, {variant} teachers")
    axes.legend(**({"fontsize": 7} if styles else {}))  # a memory sweep has three curves per method
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return without_band


def steps_table(runs: list[Run], variant: str) -> str:
    """Markdown: median steps to reach 90% of the teacher's score, per suite, size and method, for ``variant``
    teachers (with the no-teacher baseline); under it, what its marks mean."""
    runs = of_variant(runs, variant)
    lines = ["| suite | size | method | median steps to 90% | runs reaching it |", "| --- | --- | --- | --- | --- |"]
    marked = False
    for suite in sorted({r.suite for r in runs}):
        for size in _ordered({r.student for r in runs}, SIZE_ORDER):
            for method in ordered_methods({r.method for r in runs}):
                chosen = [r for r in runs if r.suite == suite and r.student == size and r.method == method]
                if not chosen:
                    continue
                steps = np.array([steps_to_target(r) for r in chosen])
                reached = steps[np.isfinite(steps)]
                median = f"{np.median(reached):,.0f}" if reached.size else "not reached"
                mark = RANDOM_MARK if any(r.random_normalised for r in chosen) else ""
                marked = marked or bool(mark)
                lines.append(f"| {suite} | {size} | {method} | {median}{mark} | {reached.size}/{len(chosen)} |")
    notes = [random_normalisation_note(runs)] if marked else []
    fewer = _fewer_episodes_note(runs)
    if fewer:
        notes.append(fewer)
    note = baseline_note(runs, variant)
    if note:
        notes.append(note)
    return "\n".join(lines) + "".join(f"\n\n{line}" for line in notes)


def _fewer_episodes_note(runs: list[Run]) -> str | None:
    """Where the periodic evaluations average fewer episodes than the final score, a single one can cross 90%
    by chance while the final score (Table 1's) stays below: say so, with both counts."""
    periodic: set[int] = set()
    for run in runs:
        path = os.path.join(run.folder, EVALUATIONS)
        try:
            with open(path, encoding="utf-8") as file:
                header = file.readline().strip().split(",")
        except (FileNotFoundError, UnicodeDecodeError):
            continue
        if "episodes" in header:  # records written before the column was added do not say
            periodic.update(int(row["episodes"]) for row in read_evaluation_rows(path, ("episodes",)))
    final = {run.eval_episodes for run in runs if run.eval_episodes is not None}
    if not periodic or not final or max(periodic) >= min(final):
        return None
    return (
        f"Each evaluation during training averages {_counts(periodic)} episodes, the final score "
        f"{_counts(final)}: one noisy evaluation can reach 90% where the final score (Table 1's) stays below."
    )


def _counts(values: set[int]) -> str:
    return " or ".join(str(value) for value in sorted(values))


def returns_at(run: Run, steps: list[int]) -> np.ndarray:
    """The run's evaluation return (Atari: human-normalised) at its first evaluation at or after each of
    ``steps``; NaN where it has none that late."""
    timesteps, returns = read_evaluations(run)
    later = [np.flatnonzero(timesteps >= step) for step in steps]
    return np.array([run.score(float(returns[i[0]])) if i.size else np.nan for i in later])


def mean_interval(values: np.ndarray, reps: int = DEFAULT_REPS) -> tuple[float, float]:
    """95% bootstrap interval of the mean of ``values``, one score per run."""
    return stratified_bootstrap_ci(np.asarray(values, dtype=float)[:, None], sample_mean, reps=reps)


def checkpoint_table(runs: list[Run], steps: list[int], reps: int = DEFAULT_REPS) -> str:
    """Markdown: per environment, student size and step, each method's mean evaluation return over seeds
    with its 95% bootstrap interval (none from fewer than ``MIN_SEEDS_FOR_INTERVAL`` runs), read from the
    evaluations during training (``returns_at``)."""
    at = {run: returns_at(run, steps) for run in runs}  # each evaluations.csv read once
    methods = ordered_methods({r.method for r in runs})
    lines = ["| env | size | step | " + " | ".join(methods) + " |", "|" + " --- |" * (3 + len(methods))]
    without_interval = False
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
                    if values.size < MIN_SEEDS_FOR_INTERVAL:
                        without_interval = True
                        cells.append(f"{score_text(float(values.mean()))} (n={values.size})")
                        continue
                    low, high = mean_interval(values, reps)
                    cells.append(
                        f"{score_text(float(values.mean()))} [{score_text(low)}, {score_text(high)}] (n={values.size})"
                    )
                lines.append(f"| {env} | {size} | {step:,} | " + " | ".join(cells) + " |")
    if without_interval:
        lines += [
            "",
            f"No interval from fewer than {MIN_SEEDS_FOR_INTERVAL} runs: a bootstrap interval of 2 runs is only their "
            "minimum and maximum.",
        ]
    return "\n".join(lines)
