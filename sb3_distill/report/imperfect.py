"""The paper's Table 2 (and, per environment, its Table 6) for imperfect teachers: every score as a fraction
of the ORIGINAL teacher's, not of the corrupted copy the students learned from.

A corrupted variant's runs record the corrupted teacher's score, which Table 1 divides by. The original
teacher's score is in the corrupted copy's record, ``OUT/teachers/ENV/sSEED-VARIANT/config.json``
(``original_mean_return``): ``sb3-distill corrupt`` evaluates the original there on the runs' evaluation
seed (seed + 10,000) and episodes, with the most probable action (as every suite's runs do but Procgen's, which
evaluate stochastically: there the two protocols differ). Each run is rebased onto it, with the fraction rule of
:meth:`~sb3_distill.report.tables.Run.fractions` (ratio where the original's score is positive, else
random-normalised), and the corrupted teacher enters as one more "student" of its original, once per seed.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import replace

import numpy as np

from sb3_distill.common.atomic_files import DamagedRecord, read_json_record
from sb3_distill.common.teacher_sources import CONFIG_FILE
from sb3_distill.envs import env_slug
from sb3_distill.report.statistics import DEFAULT_REPS
from sb3_distill.report.tables import (
    BASELINE,
    ORIGINAL,
    RANDOM_MARK,
    Aggregate,
    Run,
    _columns,
    _header,
    aggregate_notes,
    aggregate_row,
    of_variant,
    score_text,
)

#: The key of a corrupted teacher's ``config.json`` that holds its original's score.
ORIGINAL_KEY = "original_mean_return"
#: The method of the runs that stand for the corrupted teachers themselves (:func:`on_original`).
CORRUPTED_TEACHER = "corrupted teacher"
#: Their student size: the column has none.
NO_SIZE = ""

#: The original teacher's score behind a corrupted teacher, per ``(env, seed, variant)``.
OriginalScores = dict[tuple[str, int, str], float]


def imperfect_variants(runs: list[Run]) -> list[str]:
    """The corrupted teacher variants that have distillation runs (the baseline's records do not count), sorted."""
    return sorted({run.variant for run in runs if not run.baseline and run.variant != ORIGINAL})


def teacher_record(out: str, env: str, seed: int, variant: str) -> str:
    """The path of the ``config.json`` of the grid's ``variant`` teacher of ``env`` and ``seed`` (the folder
    of :class:`sb3_distill.bench.plan.TeacherJob`)."""
    return os.path.join(out, "teachers", env_slug(env), f"s{seed}-{variant}", CONFIG_FILE)


def read_original_score(out: str, env: str, seed: int, variant: str) -> float:
    """The original teacher's score in the record of its ``variant`` copy (:func:`teacher_record`).

    :param out: the grid's output folder
    :param env: the environment id
    :param seed: the teacher's seed
    :param variant: a corrupted variant (``corrupted0.05``, ``corrupted0.5x``, ...)
    :raises FileNotFoundError: the copy has no ``config.json``
    :raises DamagedRecord: it is damaged, or has no numeric ``original_mean_return``
    """
    path = teacher_record(out, env, seed, variant)
    try:
        record = read_json_record(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing: the record of the {variant} teacher of {env}, seed {seed}, whose {ORIGINAL_KEY} "
            "(the original teacher's score) the report's Table 2 format divides by."
        ) from None
    value = record.get(ORIGINAL_KEY)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DamagedRecord(
            f"{path} has no numeric {ORIGINAL_KEY} (got {value!r}): the original teacher's score, which the report's "
            "Table 2 format divides by. `sb3-distill corrupt` records it where it knows the environment (the grid "
            "always gives it); corrupt this teacher again with --env to record it."
        )
    return float(value)


def original_scores(out: str, runs: list[Run]) -> OriginalScores:
    """The original teachers' scores that the imperfect-teacher tables divide by: those behind every corrupted
    variant's runs and, where there are such runs, behind the teachers the baseline's records name (a grid of
    corrupted variants only records the first of them there). Nothing is read without a corrupted variant.

    :param out: the grid's output folder
    :param runs: its runs
    :return: per ``(env, seed, variant)``, the original's score (:func:`read_original_score`)
    :raises FileNotFoundError: a corrupted teacher's ``config.json`` is missing
    :raises DamagedRecord: one is damaged or has no numeric ``original_mean_return``
    """
    needed = {(r.env, r.seed, r.variant) for r in runs if not r.baseline and r.variant != ORIGINAL}
    if not needed:
        return {}
    # a baseline run that records the original teacher holds its score already: nothing to read for it
    needed |= {(r.env, r.seed, r.variant) for r in runs if r.baseline and r.variant != ORIGINAL}
    return {key: read_original_score(out, *key) for key in sorted(needed)}


def on_original(runs: list[Run], variant: str, originals: OriginalScores) -> list[Run]:
    """``variant``'s runs and the baseline's, each with its seed's original teacher's score as its teacher's, and
    per environment and seed one run of method ``corrupted teacher`` whose "student" is the corrupted teacher
    (its score as the variant's runs evaluated it, their mean should they differ).

    :param runs: the grid's runs
    :param variant: a corrupted variant with runs
    :param originals: :func:`original_scores` of ``runs``
    """
    rebased = []
    for run in of_variant(runs, variant):
        if run.baseline and run.variant == ORIGINAL:  # its record holds the original's score, as a run evaluates it
            rebased.append(run)
        else:
            rebased.append(replace(run, teacher_return=originals[(run.env, run.seed, run.variant)]))
    by_seed: dict[tuple[str, int], list[Run]] = defaultdict(list)
    for run in runs:
        if run.variant == variant and not run.baseline:
            by_seed[(run.env, run.seed)].append(run)
    for (env, seed), here in sorted(by_seed.items()):
        rebased.append(
            replace(
                here[0],
                method=CORRUPTED_TEACHER,
                student=NO_SIZE,
                teacher_return=originals[(env, seed, variant)],
                student_return=float(np.mean([run.teacher_return for run in here])),
            )
        )
    return rebased


def imperfect_runs(runs: list[Run], originals: OriginalScores) -> list[Run]:
    """:func:`on_original` of every corrupted variant: the runs whose random scores the tables may need."""
    return [run for variant in imperfect_variants(runs) for run in on_original(runs, variant, originals)]


def _mean_cell(runs: list[Run]) -> str:
    """A Table 6 cell: the mean of the runs' fractions (one per seed), ‡ where random-normalised; n/a where
    none has a fraction, blank without runs."""
    if not runs:
        return ""
    fractions = [run.fraction for run in runs if np.isfinite(run.fraction)]
    if not fractions:
        return "n/a"
    mark = RANDOM_MARK if any(run.random_normalised for run in runs) else ""
    return f"{np.mean(fractions):.2f}x{mark}"


def table_2(runs: list[Run], variant: str, originals: OriginalScores, reps: int = DEFAULT_REPS) -> str:
    """Markdown: for ``variant`` teachers (and the no-teacher baseline), every score as a fraction of the original
    teacher's: one row per suite (geometric IQM over environments x seeds with its interval, as Table 1), then one
    per environment (the mean over seeds); the original teacher's mean return, the corrupted teacher's fraction,
    then one column per student size x method. Under it, a line for each mark and limit its cells show.

    :param runs: the grid's runs, with their random scores
    :param variant: a corrupted variant with runs
    :param originals: :func:`original_scores` of ``runs``
    :param reps: bootstrap replications of the intervals
    """
    rebased = on_original(runs, variant, originals)
    students = [run for run in rebased if run.method != CORRUPTED_TEACHER]
    teachers = [run for run in rebased if run.method == CORRUPTED_TEACHER]
    columns = _columns(students)
    lines = _header(["suite / env", "original teacher", CORRUPTED_TEACHER], columns)
    aggregates: list[Aggregate] = []
    undefined = False
    for suite in sorted({run.suite for run in rebased}):
        here = [run for run in rebased if run.suite == suite]
        cells, found, undefined_here = aggregate_row(here, [(NO_SIZE, CORRUPTED_TEACHER), *columns], reps)
        aggregates += found
        undefined |= undefined_here
        lines.append(f"| {suite} |  | " + " | ".join(cells) + " |")
    random_marked = any(cell.random_normalised for cell in aggregates)
    for env in sorted({run.env for run in rebased}):
        here = [run for run in rebased if run.env == env]
        originals_here = [run.teacher_return for run in teachers if run.env == env]  # one per seed
        cells = [_mean_cell([run for run in here if (run.student, run.method) == column]) for column in columns]
        cells.insert(0, _mean_cell([run for run in teachers if run.env == env]))
        undefined |= "n/a" in cells
        random_marked |= any(cell.endswith(RANDOM_MARK) for cell in cells)
        original = score_text(float(np.mean(originals_here))) if originals_here else ""
        lines.append(f"| {env} | {original} | " + " | ".join(cells) + " |")
    notes = aggregate_notes(aggregates, rebased, undefined, random_marked, teacher="original teacher")
    if any(run.baseline for run in rebased):
        notes.append(
            f"{BASELINE}: the no-teacher baseline, the same runs under every teacher variant, here as fractions of "
            "the original teacher of its seed."
        )
    return "\n".join(lines) + "".join(f"\n\n{note}" for note in notes)
