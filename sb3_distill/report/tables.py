"""The grid's runs, read back, and the paper's tables: Table 1 (fractions of the teacher's score,
geometric IQM over environments x seeds with 95% bootstrap intervals) and Table 5 (per-environment means).

A run's score is its student's mean evaluation return divided by its teacher's (Atari: both
human-normalised first, as in the paper). Fractions assume returns that are positive for a competent
teacher, as in the paper's suites; for other tasks read Table 5.
"""

from __future__ import annotations

import glob
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sb3_distill.common.atomic_files import DamagedRecord, read_json_record
from sb3_distill.envs import suite_of
from sb3_distill.envs.atari import human_normalized_score
from sb3_distill.report.statistics import geometric_iqm, stratified_bootstrap_ci

METHOD_ORDER = ("teacher-distill", "student-distill", "ppd", "ppo")
SHORT = {"teacher-distill": "td", "student-distill": "sd", "ppd": "ppd", "ppo": "ppo"}
SIZE_ORDER = ("smaller", "same", "larger")


@dataclass(frozen=True)
class Run:
    folder: str
    env: str
    suite: str
    method: str
    student: str
    seed: int
    variant: str
    teacher_return: float
    student_return: float
    steps: int
    steps_per_second: float

    def score(self, mean_return: float) -> float:
        """A return as the paper scores it: human-normalised on Atari, raw elsewhere."""
        return human_normalized_score(self.env, mean_return) if self.suite == "atari" else mean_return

    @property
    def fraction(self) -> float:
        """Student score / teacher score; NaN when the teacher's score is not positive (no meaningful ratio)."""
        teacher = self.score(self.teacher_return)
        return self.score(self.student_return) / teacher if teacher > 0 else float("nan")


#: The keys of a run's ``done.json`` that the report reads.
RUN_KEYS = ("env", "method", "student", "seed", "variant", "teacher_mean_return", "student_mean_return", "steps")


def read_runs(out: str) -> list[Run]:
    """Every finished distillation run under a grid's output folder.

    :raises DamagedRecord: a ``done.json`` is damaged or lacks a value (the message names the file)
    """
    runs = []
    for path in sorted(glob.glob(os.path.join(out, "runs", "**", "done.json"), recursive=True)):
        record = read_json_record(path, required=RUN_KEYS)
        env = str(record["env"])
        try:
            run = Run(
                folder=os.path.dirname(path),
                env=env,
                suite=suite_of(env).name,
                method=str(record["method"]),
                student=str(record["student"]),
                seed=int(record["seed"]),
                variant=str(record["variant"]),
                teacher_return=float(record["teacher_mean_return"]),
                student_return=float(record["student_mean_return"]),
                steps=int(record["steps"]),
                steps_per_second=float(record.get("steps_per_second", float("nan"))),
            )
        except (TypeError, ValueError) as error:  # a value of the wrong kind: seed "x", steps null
            raise DamagedRecord(f"{path} is damaged: {error}.") from None
        runs.append(run)
    return runs


def fraction_matrix(runs: list[Run]) -> np.ndarray:
    """``[seeds, envs]`` of fractions; environments with more seeds than others are cut to the fewest, and
    runs without a fraction (a teacher score <= 0) are left out."""
    by_env: dict[str, list[float]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: (r.env, r.seed)):
        if np.isfinite(run.fraction):
            by_env[run.env].append(run.fraction)
    if not by_env:
        return np.zeros((0, 0))
    depth = min(len(values) for values in by_env.values())
    return np.array([values[:depth] for values in by_env.values()]).T


def _ordered(values: set[str], order: Sequence[str]) -> list[str]:
    """``values`` in the order of ``order``, then those it does not list, sorted."""
    return [value for value in order if value in values] + sorted(set(values) - set(order))


def ordered_methods(labels: set[str]) -> list[str]:
    """Method labels (``ppd``, ``ppd lambda=0.5``, ...) in the paper's order of methods, sweep settings after."""

    def rank(label: str) -> tuple[int, str]:
        base = label.split(" ", 1)[0]
        return (METHOD_ORDER.index(base) if base in METHOD_ORDER else len(METHOD_ORDER), label)

    return sorted(labels, key=rank)


def short_label(label: str) -> str:
    """``student-distill n_epochs=2`` -> ``sd n_epochs=2``."""
    base, _, setting = label.partition(" ")
    return " ".join(part for part in (SHORT.get(base, base), setting) if part)


def _columns(runs: list[Run]) -> list[tuple[str, str]]:
    """(student size, method) pairs in the paper's order: sizes, then td, sd, ppd (and ppo)."""
    return [
        (size, method)
        for size in _ordered({r.student for r in runs}, SIZE_ORDER)
        for method in ordered_methods({r.method for r in runs})
    ]


def _header(first: list[str], columns: list[tuple[str, str]]) -> list[str]:
    names = first + [f"{size} {short_label(method)}" for size, method in columns]
    return ["| " + " | ".join(names) + " |", "|" + " --- |" * len(names)]


def table_1(runs: list[Run], variant: str, reps: int = 2000) -> str:
    """Markdown: one row per suite, one column per student size x method."""
    runs = [run for run in runs if run.variant in (variant, "no-teacher")]
    columns = _columns(runs)
    lines = _header(["suite"], columns)
    for suite in sorted({run.suite for run in runs}):
        cells = []
        for size, method in columns:
            chosen = [r for r in runs if r.suite == suite and r.student == size and r.method == method]
            if not chosen:
                cells.append("")
                continue
            scores = fraction_matrix(chosen)
            if scores.size == 0:  # no positive teacher score: see Table 5
                cells.append("n/a")
                continue
            low, high = stratified_bootstrap_ci(scores, geometric_iqm, reps=reps)
            cells.append(f"{geometric_iqm(scores):.2f}x [{low:.2f}, {high:.2f}]")
        lines.append(f"| {suite} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table_5(runs: list[Run], variant: str) -> str:
    """Markdown: mean evaluation return per environment (Atari: human-normalised), teacher then each column."""
    runs = [run for run in runs if run.variant in (variant, "no-teacher")]
    columns = _columns(runs)
    lines = _header(["env", "teacher"], columns)
    for env in sorted({run.env for run in runs}):
        here = [run for run in runs if run.env == env]
        teacher = np.mean([run.score(run.teacher_return) for run in here if run.method != "ppo"] or [np.nan])
        cells = []
        for size, method in columns:
            values = [run.score(run.student_return) for run in here if run.student == size and run.method == method]
            cells.append(score_text(float(np.mean(values))) if values else "")
        lines.append(f"| {env} | {score_text(float(teacher))} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def score_text(score: float) -> str:
    """Three significant digits, but whole numbers from 1000 up (MuJoCo returns), never an exponent."""
    return f"{score:.0f}" if abs(score) >= 1000 else f"{score:.3g}"


def throughput(runs: list[Run]) -> str:
    """Markdown: environment steps per second of training, per method (mean over runs)."""
    lines = ["| method | steps/s | runs |", "| --- | --- | --- |"]
    for method in ordered_methods({r.method for r in runs}):
        rates = [r.steps_per_second for r in runs if r.method == method and np.isfinite(r.steps_per_second)]
        lines.append(f"| {method} | {np.mean(rates):.0f} | {len(rates)} |" if rates else f"| {method} | | 0 |")
    return "\n".join(lines)
