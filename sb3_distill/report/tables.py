"""The grid's runs, read back, and the paper's tables: Table 1 (fractions of the teacher's score,
geometric IQM over environments x seeds with 95% bootstrap intervals) and Table 5 (per-environment means).

A run's fraction is its student's mean evaluation return divided by its teacher's (Atari: both
human-normalised first, as in the paper). Where the teacher's score is not positive (Acrobot's returns are
all negative), that ratio means nothing; there the fraction is random-normalised instead,
``(student - random) / (teacher - random)``, with the uniformly random policy's mean return (marked ‡ in
the tables). A teacher no better than random has no fraction (n/a).
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
from sb3_distill.report.statistics import (
    DEFAULT_REPS,
    MIN_SCORES_FOR_IQM,
    MIN_SEEDS_FOR_INTERVAL,
    geometric_iqm,
    sample_geometric_iqm,
    stratified_bootstrap_ci,
)

METHOD_ORDER = ("teacher-distill", "student-distill", "ppd", "ppo")
SHORT = {"teacher-distill": "td", "student-distill": "sd", "ppd": "ppd", "ppo": "ppo"}
SIZE_ORDER = ("smaller", "same", "larger")
#: The no-teacher baseline's method and folder group: its runs appear under every teacher variant.
BASELINE = "ppo"
NO_TEACHER = "no-teacher"
#: The variant of the teachers as trained (or given): every other variant is a corrupted copy of one.
ORIGINAL = "original"
#: Marks of Table 1's cells (and the steps table's), explained under the table where they appear.
MEAN_MARK = "†"
RANDOM_MARK = "‡"


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
    eval_episodes: int | None = None
    #: The uniformly random policy's mean return on ``env``: the base of the fraction where the teacher's
    #: score is not positive (:func:`sb3_distill.report.random_scores.with_random_scores` sets it).
    random_return: float | None = None

    def score(self, mean_return: float) -> float:
        """A return as the paper scores it: human-normalised on Atari, raw elsewhere."""
        return human_normalized_score(self.env, mean_return) if self.suite == "atari" else mean_return

    @property
    def baseline(self) -> bool:
        """Whether this is a run of the no-teacher baseline (``ppo``), which every teacher variant shares."""
        group = os.path.basename(os.path.dirname(self.folder))
        return self.method.split(" ", 1)[0] == BASELINE or NO_TEACHER in (self.variant, group)

    @property
    def random_normalised(self) -> bool:
        """Whether the run's fractions are ``(x - random) / (teacher - random)``: its teacher's score is not positive."""
        return not self.score(self.teacher_return) > 0

    def fraction_of(self, mean_return: float) -> float:
        """A return as a fraction of the teacher's score: ``score / teacher`` (Atari: human-normalised scores);
        where the teacher's score is not positive, ``(score - random) / (teacher - random)``; NaN where that
        is undefined too (no random score, or a teacher no better than random)."""
        return float(self.fractions(np.array([mean_return]))[0])

    def fractions(self, returns: np.ndarray) -> np.ndarray:
        """:meth:`fraction_of` of each of ``returns``."""
        returns = np.asarray(returns, dtype=float)
        raw = human_normalized_score(self.env, returns) if self.suite == "atari" else returns  # type: ignore[arg-type]
        scores: np.ndarray = np.asarray(raw, dtype=float)
        teacher = self.score(self.teacher_return)
        if teacher > 0:
            return scores / teacher
        if self.random_return is None:
            return np.full(returns.shape, np.nan)
        random = self.score(self.random_return)
        return (scores - random) / (teacher - random) if teacher > random else np.full(returns.shape, np.nan)

    @property
    def fraction(self) -> float:
        """The student's score as a fraction of the teacher's (:meth:`fraction_of`)."""
        return self.fraction_of(self.student_return)


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
                eval_episodes=int(record["eval_episodes"]) if record.get("eval_episodes") is not None else None,
            )
        except (TypeError, ValueError) as error:  # a value of the wrong kind: seed "x", steps null
            raise DamagedRecord(f"{path} is damaged: {error}.") from None
        runs.append(run)
    return runs


def teacher_variants(runs: list[Run]) -> list[str]:
    """The teacher variants the report shows one by one (``original``, ``corrupted0.05``, ...), sorted."""
    return sorted({run.variant for run in runs if not run.baseline}) or sorted({run.variant for run in runs})


def of_variant(runs: list[Run], variant: str) -> list[Run]:
    """The runs distilled from ``variant`` teachers, and the no-teacher baseline's, which every variant shows."""
    return [run for run in runs if run.variant == variant or run.baseline]


def _fraction_runs(runs: list[Run]) -> list[list[Run]]:
    """Per environment, its runs with a fraction, by seed; environments cut to the fewest seeds."""
    by_env: dict[str, list[Run]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: (r.env, r.seed)):
        if np.isfinite(run.fraction):
            by_env[run.env].append(run)
    if not by_env:
        return []
    depth = min(len(values) for values in by_env.values())
    return [values[:depth] for values in by_env.values()]


def fraction_matrix(runs: list[Run]) -> np.ndarray:
    """``[seeds, envs]`` of fractions; environments with more seeds than others are cut to the fewest, and
    runs without a fraction (a teacher no better than random) are left out."""
    used = _fraction_runs(runs)
    return np.array([[run.fraction for run in env] for env in used]).T if used else np.zeros((0, 0))


@dataclass(frozen=True)
class Aggregate:
    """A Table 1 cell: the geometric IQM of ``scores`` fractions (``seeds`` per environment), its 95%
    interval (``None`` with fewer than ``MIN_SEEDS_FOR_INTERVAL`` seeds), and whether any fraction is
    random-normalised."""

    value: float
    interval: tuple[float, float] | None
    scores: int
    seeds: int
    random_normalised: bool

    @property
    def is_mean(self) -> bool:
        """Fewer than 4 scores: the 25% trim removes nothing, so the "IQM" is a plain (geometric) mean."""
        return self.scores < MIN_SCORES_FOR_IQM

    def text(self) -> str:
        marks = (MEAN_MARK if self.is_mean else "") + (RANDOM_MARK if self.random_normalised else "")
        interval = "" if self.interval is None else f" [{self.interval[0]:.2f}, {self.interval[1]:.2f}]"
        return f"{self.value:.2f}x{marks}{interval} (n={self.scores})"


def aggregate_fractions(runs: list[Run], reps: int = DEFAULT_REPS) -> Aggregate | None:
    """The geometric IQM of the runs' fractions over environments x seeds, with its stratified-bootstrap
    interval where every environment has at least ``MIN_SEEDS_FOR_INTERVAL`` seeds; ``None`` without any
    fraction."""
    used = _fraction_runs(runs)
    if not used:
        return None
    scores = np.array([[run.fraction for run in env] for env in used]).T  # [seeds, envs]
    seeds = scores.shape[0]
    interval = stratified_bootstrap_ci(scores, sample_geometric_iqm, reps=reps) if seeds >= MIN_SEEDS_FOR_INTERVAL else None
    return Aggregate(
        value=geometric_iqm(scores),
        interval=interval,
        scores=scores.size,
        seeds=seeds,
        random_normalised=any(run.random_normalised for env in used for run in env),
    )


def random_normalisation_note(runs: list[Run], teacher: str = "teacher") -> str:
    """The line under a table that explains ‡, naming each such environment's random score.

    :param runs: the table's runs
    :param teacher: what the table divides by (``original teacher`` in the imperfect-teacher table)
    """
    randoms = sorted({(r.env, r.random_return) for r in runs if r.random_normalised and r.random_return is not None})
    named = ", ".join(f"{env} {value:.4g}" for env, value in randoms)
    return (
        f"{RANDOM_MARK} includes runs whose {teacher}'s score is not positive, where student / {teacher} means nothing: "
        f"their fraction is (student - random) / ({teacher} - random), random being the uniformly random policy's "
        f"mean return ({named}; random_scores.json). Elsewhere the fraction is student / {teacher}."
    )


def aggregate_notes(
    aggregates: list[Aggregate], runs: list[Run], undefined: bool, random_marked: bool, teacher: str = "teacher"
) -> list[str]:
    """The lines under a table of fractions that explain the marks and limits its cells show.

    :param aggregates: the table's aggregate cells (:func:`aggregate_fractions`): † and missing intervals
    :param runs: the table's runs, whose random scores the ‡ line names
    :param undefined: some cell is n/a (no fraction: no teacher better than random)
    :param random_marked: some cell is marked ‡
    :param teacher: what the table divides by (``original teacher`` in the imperfect-teacher table)
    """
    notes = []
    if any(cell.is_mean for cell in aggregates):
        notes.append(
            f"{MEAN_MARK} geometric mean of n<{MIN_SCORES_FOR_IQM} scores, not an IQM: the IQM's 25% trim removes "
            f"nothing from fewer than {MIN_SCORES_FOR_IQM} scores."
        )
    if any(cell.interval is None for cell in aggregates):
        notes.append(
            f"No interval where an environment has fewer than {MIN_SEEDS_FOR_INTERVAL} seeds: a bootstrap interval "
            "of 2 runs is only their minimum and maximum."
        )
    if random_marked:
        notes.append(random_normalisation_note(runs, teacher))
    if undefined:
        notes.append(f"n/a: no run whose {teacher} scores better than the random policy (see Table 5).")
    return notes


def baseline_note(runs: list[Run], variant: str) -> str | None:
    """The line under a variant's table that says which teacher the no-teacher baseline's fractions use."""
    recorded = sorted({run.variant for run in runs if run.baseline and run.variant != variant})
    if not recorded:
        return None
    return (
        f"{BASELINE}: the no-teacher baseline, the same runs under every teacher variant; its fractions are of the "
        f"teacher score in its records ({', '.join(recorded)} teachers)."
    )


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


def aggregate_row(
    runs: list[Run], columns: list[tuple[str, str]], reps: int = DEFAULT_REPS
) -> tuple[list[str], list[Aggregate], bool]:
    """A Table 1 row of ``runs`` (one suite's): per column, the aggregate of the runs of its student size and
    method (:meth:`Aggregate.text`), ``n/a`` where none of them has a fraction, blank where there are none.

    :return: the cells' texts, the aggregates behind them, and whether some cell is n/a
    """
    texts: list[str] = []
    aggregates: list[Aggregate] = []
    undefined = False
    for size, method in columns:
        chosen = [r for r in runs if r.student == size and r.method == method]
        aggregate = aggregate_fractions(chosen, reps) if chosen else None
        if aggregate is not None:
            aggregates.append(aggregate)
        undefined |= bool(chosen) and aggregate is None  # no teacher better than random: see Table 5
        texts.append(aggregate.text() if aggregate is not None else "n/a" if chosen else "")
    return texts, aggregates, undefined


def table_1(runs: list[Run], variant: str, reps: int = DEFAULT_REPS) -> str:
    """Markdown: one row per suite, one column per student size x method, for ``variant`` teachers (and the
    no-teacher baseline); under it, a line for each mark and limit that its cells show."""
    runs = of_variant(runs, variant)
    columns = _columns(runs)
    lines = _header(["suite"], columns)
    cells_of: list[Aggregate] = []
    undefined = False
    for suite in sorted({run.suite for run in runs}):
        cells, aggregates, undefined_here = aggregate_row([r for r in runs if r.suite == suite], columns, reps)
        cells_of += aggregates
        undefined |= undefined_here
        lines.append(f"| {suite} | " + " | ".join(cells) + " |")
    return table_with_notes(lines, cells_of, runs, undefined, variant)


def table_with_notes(lines: list[str], cells: list[Aggregate], runs: list[Run], undefined: bool, variant: str) -> str:
    """A table of fractions of ``variant`` teachers and, under it, the lines that explain its cells' marks and limits
    and whose teacher the baseline's fractions use."""
    notes = aggregate_notes(cells, runs, undefined, any(cell.random_normalised for cell in cells))
    note = baseline_note(runs, variant)
    if note:
        notes.append(note)
    return "\n".join(lines) + "".join(f"\n\n{note}" for note in notes)


def table_5(runs: list[Run], variant: str) -> str:
    """Markdown: mean evaluation return per environment (Atari: human-normalised), teacher then each column."""
    runs = of_variant(runs, variant)
    columns = _columns(runs)
    lines = _header(["env", "teacher"], columns)
    for env in sorted({run.env for run in runs}):
        here = [run for run in runs if run.env == env]
        teacher = np.mean([run.score(run.teacher_return) for run in here if not run.baseline] or [np.nan])
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
    """Markdown: environment steps per second of training, per method (mean over the runs of every teacher variant)."""
    lines = ["| method | steps/s | runs |", "| --- | --- | --- |"]
    for method in ordered_methods({r.method for r in runs}):
        rates = [r.steps_per_second for r in runs if r.method == method and np.isfinite(r.steps_per_second)]
        lines.append(f"| {method} | {np.mean(rates):.0f} | {len(rates)} |" if rates else f"| {method} | | 0 |")
    return "\n".join(lines)
