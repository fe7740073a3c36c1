"""The paper's claims (Tables 1, 2 and 7; paper.md §8) checked against committed grids, each one able to fail.

    python benchmarks/paper_claims.py docs/results/minatar docs/results/imperfect-teachers docs/results/mujoco

Every claim "A > B" is the ratio of the geometric IQMs of A's and B's fractions of the teacher's score, over
the environments x seeds that both have, with a 95% bootstrap interval that resamples A's and B's runs
together (run i of both comes from teacher seed i; ``sb3_distill.report.comparisons.paired_ratio``). The
verdict: holds (interval above 1), does not hold (below 1), or not separable (it contains 1). Claims
against the teacher compare with the constant 1. Imperfect-teacher claims use fractions of the ORIGINAL
teacher (the report's Table 2 format). Runs of one suite from several grids are pooled by (environment,
seed): a grid's no-teacher ``ppo`` runs serve Table 7 next to another grid's PPD runs of the same teachers.
Prints markdown: the cells (as the report's Table 1) and the claims.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sb3_distill.report.comparisons import Ratio, paired_ratio
from sb3_distill.report.imperfect import CORRUPTED_TEACHER, imperfect_runs, original_scores
from sb3_distill.report.random_scores import random_scores, with_random_scores
from sb3_distill.report.statistics import DEFAULT_REPS
from sb3_distill.report.tables import BASELINE, ORIGINAL, Run, aggregate_fractions, read_runs

SIZES = ("smaller", "same", "larger")
METHODS = ("teacher-distill", "student-distill", "ppd")
SHORT = {
    "teacher-distill": "td",
    "student-distill": "sd",
    "ppd": "ppd",
    BASELINE: "ppo",
    CORRUPTED_TEACHER: "corrupted teacher",
}

#: The paper's aggregates the claims come from (paper.md §8.2, Table 1; §8.4, Table 2; §8.5, Table 7).
PAPER_TABLE_1 = {
    ("atari", "smaller"): {"teacher-distill": 0.86, "student-distill": 0.94, "ppd": 0.97},
    ("atari", "same"): {"teacher-distill": 1.0, "student-distill": 1.07, "ppd": 1.08},
    ("atari", "larger"): {"teacher-distill": 1.07, "student-distill": 1.09, "ppd": 1.1},
    ("mujoco", "smaller"): {"teacher-distill": 0.99, "student-distill": 0.99, "ppd": 0.99},
    ("mujoco", "same"): {"teacher-distill": 0.99, "student-distill": 1.0, "ppd": 1.0},
    ("mujoco", "larger"): {"teacher-distill": 0.99, "student-distill": 1.0, "ppd": 1.0},
}


@dataclass(frozen=True)
class Claim:
    table: str
    text: str
    paper: str
    ratio: Ratio
    n: int

    def row(self) -> str:
        return f"| {self.table} | {self.text} | {self.paper} | {self.ratio.text()} (n={self.n}) | {self.ratio.verdict()} |"


@dataclass
class Pool:
    """Runs as fractions of their ORIGINAL teacher: ``original`` (students of original teachers, and the
    no-teacher baseline) and ``imperfect`` (students of corrupted teachers, and the corrupted teachers
    themselves as method ``corrupted teacher``)."""

    original: list[Run]
    imperfect: list[Run]


def load(outs: Sequence[str]) -> Pool:
    """The runs of every grid in ``outs``, with their random scores, corrupted variants rebased onto the original."""
    pool = Pool([], [])
    for out in outs:
        runs = read_runs(out)
        originals = original_scores(out, runs)
        rebased = imperfect_runs(runs, originals)
        randoms = random_scores(out, runs + rebased, verbose=False)
        runs, rebased = with_random_scores(runs, randoms), with_random_scores(rebased, randoms)
        pool.original += [run for run in runs if run.variant == ORIGINAL]
        # a grid of corrupted variants only records its baseline under one of them: rebased, it is of the original
        pool.original += [run for run in rebased if run.baseline and run.variant != ORIGINAL]
        pool.imperfect += [run for run in rebased if not run.baseline]
    return pool


def select(runs: list[Run], suite: str, method: str, size: str = "") -> dict[tuple[str, int], float]:
    """``(env, seed) -> fraction`` of the runs of one suite, method and (unless empty) student size."""
    chosen: dict[tuple[str, int], float] = {}
    for run in runs:
        if run.suite == suite and run.method == method and (not size or run.student == size) and np.isfinite(run.fraction):
            chosen.setdefault((run.env, run.seed), run.fraction)
    return chosen


def paired(a: dict[tuple[str, int], float], b: dict[tuple[str, int], float] | None) -> tuple[np.ndarray, np.ndarray]:
    """``[seeds, envs]`` matrices of the keys both have, environments cut to the seeds every one of them has."""
    keys = set(a) if b is None else set(a) & set(b)
    envs = sorted({env for env, _ in keys})
    seeds = sorted(set.intersection(*({seed for e, seed in keys if e == env} for env in envs))) if envs else []
    if not seeds:
        return np.zeros((0, 0)), np.zeros((0, 0))
    left = np.array([[a[(env, seed)] for env in envs] for seed in seeds])
    right = np.ones_like(left) if b is None else np.array([[b[(env, seed)] for env in envs] for seed in seeds])
    return left, right


def claim(
    table: str, text: str, paper: str, a: dict[tuple[str, int], float], b: dict[tuple[str, int], float] | None, reps: int
) -> Claim | None:
    left, right = paired(a, b)
    if left.size == 0:
        return None
    return Claim(table, text, paper, paired_ratio(left, right, reps), left.size)


def table_1_claims(pool: Pool, suite: str, reps: int) -> list[Claim | None]:
    claims: list[Claim | None] = []

    def pick(method: str, size: str) -> dict[tuple[str, int], float]:
        return select(pool.original, suite, method, size)

    for size in SIZES:
        paper = PAPER_TABLE_1.get(("atari" if suite == "minatar" else suite, size), {})
        for better, worse in (("ppd", "student-distill"), ("student-distill", "teacher-distill"), ("ppd", "teacher-distill")):
            said = f"{paper[better]:.2f}x vs {paper[worse]:.2f}x" if paper else ""
            claims.append(
                claim(
                    "1", f"{suite} {size}: {SHORT[better]} > {SHORT[worse]}", said, pick(better, size), pick(worse, size), reps
                )
            )
    for method in METHODS:
        claims.append(
            claim(
                "1",
                f"{suite} {SHORT[method]}: larger > smaller",
                "larger higher",
                pick(method, "larger"),
                pick(method, "smaller"),
                reps,
            )
        )
    paper = PAPER_TABLE_1.get(("atari" if suite == "minatar" else suite, "larger"), {})
    claims.append(
        claim("1", f"{suite} larger ppd > teacher", f"{paper['ppd']:.2f}x" if paper else "", pick("ppd", "larger"), None, reps)
    )
    return claims


def table_2_claims(pool: Pool, suite: str, reps: int) -> list[Claim | None]:
    def pick(method: str) -> dict[tuple[str, int], float]:
        return select(pool.imperfect, suite, method, "" if method == CORRUPTED_TEACHER else "larger")

    pairs = (
        ("ppd", CORRUPTED_TEACHER, "atari 0.64x vs 0.34x"),
        ("ppd", "student-distill", "atari 0.64x vs 0.46x"),
        ("ppd", "teacher-distill", "atari 0.64x vs 0.40x"),
        ("student-distill", CORRUPTED_TEACHER, "atari 0.46x vs 0.34x (≈)"),
        ("teacher-distill", CORRUPTED_TEACHER, "atari 0.40x vs 0.34x (≈)"),
    )
    return [claim("2", f"{suite} larger: {SHORT[a]} > {SHORT[b]}", said, pick(a), pick(b), reps) for a, b, said in pairs]


def table_7_claims(pool: Pool, suite: str, reps: int) -> list[Claim | None]:
    ppd = select(pool.original, suite, "ppd", "larger")
    ppo = select(pool.original, suite, BASELINE, "larger")
    return [claim("7", f"{suite} larger: ppd > ppo", "atari 1.16x vs 0.38x", ppd, ppo, reps)]


def cells(runs: list[Run], suite: str, reps: int) -> list[str]:
    lines = []
    for size in SIZES:
        row = []
        for method in METHODS:
            chosen = [r for r in runs if r.suite == suite and r.student == size and r.method == method]
            aggregate = aggregate_fractions(chosen, reps) if chosen else None
            row.append(aggregate.text() if aggregate else "")
        if any(row):
            lines.append(f"| {suite} | {size} | " + " | ".join(row) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("grids", nargs="+", help="grid output folders (committed ones under docs/results/)")
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS, help="bootstrap replications")
    args = parser.parse_args(argv)
    pool = load(args.grids)
    suites = sorted({run.suite for run in pool.original + pool.imperfect})
    print("## Table 1 cells (original teachers): geometric IQM of fractions of the teacher's score\n")
    print("| suite | size | td | sd | ppd |\n| --- | --- | --- | --- | --- |")
    for suite in suites:
        for line in cells(pool.original, suite, args.reps):
            print(line)
    corrupted = [run for run in pool.imperfect if run.method == CORRUPTED_TEACHER]
    if corrupted:
        print("\n## Corrupted teachers: fraction of the original teacher's score kept, per environment and seed\n")
        for run in sorted(corrupted, key=lambda r: (r.env, r.seed, r.variant)):
            print(f"- {run.env} seed {run.seed} ({run.variant}): {run.fraction:.3f}")
        fractions = [run.fraction for run in corrupted]
        print(f"\nRange: {min(fractions):.3f} to {max(fractions):.3f} over {len(fractions)} corrupted teachers.")
    print("\n## Claims: ratio of geometric IQMs, A / B, paired 95% bootstrap interval\n")
    print("| table | claim (A > B) | paper | here: A / B [95%] | verdict |\n| --- | --- | --- | --- | --- |")
    for suite in suites:
        claims = (
            table_1_claims(pool, suite, args.reps)
            + table_2_claims(pool, suite, args.reps)
            + table_7_claims(pool, suite, args.reps)
        )
        for found in claims:
            if found is not None:
                print(found.row())


if __name__ == "__main__":
    main()
