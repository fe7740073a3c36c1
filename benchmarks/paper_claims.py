"""The paper's claims (Tables 1, 2 and 7; paper.md §8) checked against committed grids, each one able to fail.

    python benchmarks/paper_claims.py docs/results/minatar docs/results/imperfect-teachers docs/results/mujoco

Every claim "A > B" is the ratio of the geometric IQMs of A's and B's fractions of the teacher's score, over
the environments x seeds that both have, with a 95% bootstrap interval that resamples A's and B's runs
together (run i of both comes from teacher seed i; ``sb3_distill.report.comparisons.paired_ratio``). The
verdict: holds (interval above 1), does not hold (below 1), or not separable (it contains 1). Claims
against the teacher compare with the constant 1. Imperfect-teacher claims use fractions of the ORIGINAL
teacher (the report's Table 2 format). Runs of several grids pair only where they share a teacher: a
committed teacher file serves every grid that names it (one grid's no-teacher ``ppo`` runs then serve
Table 7 beside another grid's PPD students), while a teacher a grid trains belongs to that grid alone.
Prints markdown (``--out`` writes it to a file): the paper's tables beside these, and the claims.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sb3_distill.bench.plan import plan
from sb3_distill.bench.spec import load_spec
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

#: The paper's cells (paper.md §8.2, Table 1): td, sd, ppd per (suite, student size).
PAPER_TABLE_1_CELLS = {
    ("atari", "smaller"): ("0.86x [0.81, 0.9]", "0.94x [0.89, 1.0]", "0.97x [0.94, 1.01]"),
    ("atari", "same"): ("1.0x [0.97, 1.04]", "1.07x [1.03, 1.12]", "1.08x [1.04, 1.13]"),
    ("atari", "larger"): ("1.07x [1.03, 1.13]", "1.09x [1.05, 1.15]", "1.1x [1.05, 1.16]"),
    ("mujoco", "smaller"): ("0.99x [0.98, 1.0]", "0.99x [0.98, 1.0]", "0.99x [0.97, 1.0]"),
    ("mujoco", "same"): ("0.99x [0.98, 1.0]", "1.0x [0.99, 1.0]", "1.0x [1.0, 1.02]"),
    ("mujoco", "larger"): ("0.99x [0.97, 1.0]", "1.0x [1.0, 1.02]", "1.0x [0.99, 1.01]"),
}
#: The paper's Table 2 (§8.4): corrupted teacher, td, sd, ppd (larger students), fractions of the original teacher.
PAPER_TABLE_2_CELLS = {
    "atari": ("0.34x [0.23, 0.51]", "0.4x [0.28, 0.54]", "0.46x [0.3, 0.64]", "0.64x [0.48, 0.8]"),
    "procgen (test)": ("0.65x [0.63, 0.69]", "0.63x [0.59, 0.67]", "0.64x [0.61, 0.67]", "0.71x [0.68, 0.74]"),
}
#: The paper's Table 7 (§8.5): ppo, td, sd, ppd (larger students).
PAPER_TABLE_7_CELLS = {
    "atari": ("0.38x [0.27, 0.51]", "1.13x [1.02, 1.28]", "1.13x [1.03, 1.29]", "1.16x [1.05, 1.33]"),
    "procgen (test)": ("0.71x [0.63, 0.79]", "0.91x [0.86, 0.98]", "0.96x [0.93, 1.0]", "1.04x [0.97, 1.08]"),
}
#: The same Table 1 cells as numbers, for the claims' "paper" column.
PAPER_TABLE_1 = {
    key: {method: float(cell.split("x")[0]) for method, cell in zip(METHODS, cells, strict=True)}
    for key, cells in PAPER_TABLE_1_CELLS.items()
}
#: The paper's name of the suite each of ours stands for.
PAPER_SUITE = {"minatar": "atari", "mujoco": "mujoco", "atari": "atari", "procgen": "procgen (test)"}
#: Committed grids that ran before issue 16 clipped the actor's and the critic's gradients apart.
SHARED_CLIP_GRIDS = {"mujoco", "small-cpu", "ppd-early"}


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
    themselves as method ``corrupted teacher``). ``teacher`` names each run's teacher by its folder: runs
    with the same name and seed learnt from the same teacher."""

    original: list[Run] = field(default_factory=list)
    imperfect: list[Run] = field(default_factory=list)
    teacher: dict[str, str] = field(default_factory=dict)

    def stratum(self, run: Run) -> str:
        return f"{run.env} | {self.teacher[run.folder]}"


def teacher_names(out: str) -> dict[str, str]:
    """``env id -> teacher`` of a grid's committed spec: the teacher's file, or the grid for one it trains."""
    path = os.path.join(out, "spec.yaml")
    grid = os.path.basename(os.path.normpath(out))
    if not os.path.exists(path):
        return {}
    return {
        env.env_id: f"trained by {grid}" if env.teacher == "train" else os.path.normpath(env.teacher)
        for env in load_spec(path).envs
    }


def load(outs: Sequence[str]) -> Pool:
    """The runs of every grid in ``outs``, with their random scores, corrupted variants rebased onto the original."""
    pool = Pool()
    for out in outs:
        names = teacher_names(out)
        grid = os.path.basename(os.path.normpath(out))
        runs = read_runs(out)
        originals = original_scores(out, runs)
        rebased = imperfect_runs(runs, originals)
        randoms = random_scores(out, runs + rebased, verbose=False)
        runs, rebased = with_random_scores(runs, randoms), with_random_scores(rebased, randoms)
        pool.original += [run for run in runs if run.variant == ORIGINAL]
        # a grid of corrupted variants only records its baseline under one of them: rebased, it is of the original
        pool.original += [run for run in rebased if run.baseline and run.variant != ORIGINAL]
        pool.imperfect += [run for run in rebased if not run.baseline]
        for run in runs + rebased:
            pool.teacher[run.folder] = names.get(run.env, f"trained by {grid}")
    return pool


def select(pool: Pool, runs: list[Run], suite: str, method: str, size: str = "") -> dict[tuple[str, int], float]:
    """``(environment | teacher, seed) -> fraction`` of the runs of one suite, method and (unless empty)
    student size."""
    chosen: dict[tuple[str, int], float] = {}
    for run in runs:
        if run.suite == suite and run.method == method and (not size or run.student == size) and np.isfinite(run.fraction):
            chosen.setdefault((pool.stratum(run), run.seed), run.fraction)
    return chosen


def paired(a: dict[tuple[str, int], float], b: dict[tuple[str, int], float] | None) -> tuple[np.ndarray, np.ndarray]:
    """``[seeds, strata]`` matrices of the keys both have, strata cut to the seeds every one of them has."""
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
        return select(pool, pool.original, suite, method, size)

    for size in SIZES:
        paper = PAPER_TABLE_1.get((PAPER_SUITE.get(suite, suite), size), {})
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
    paper = PAPER_TABLE_1.get((PAPER_SUITE.get(suite, suite), "larger"), {})
    claims.append(
        claim("1", f"{suite} larger ppd > teacher", f"{paper['ppd']:.2f}x" if paper else "", pick("ppd", "larger"), None, reps)
    )
    return claims


def table_2_claims(pool: Pool, suite: str, reps: int) -> list[Claim | None]:
    def pick(method: str) -> dict[tuple[str, int], float]:
        return select(pool, pool.imperfect, suite, method, "" if method == CORRUPTED_TEACHER else "larger")

    pairs = (
        ("ppd", CORRUPTED_TEACHER, "atari 0.64x vs 0.34x"),
        ("ppd", "student-distill", "atari 0.64x vs 0.46x"),
        ("ppd", "teacher-distill", "atari 0.64x vs 0.40x"),
        ("student-distill", CORRUPTED_TEACHER, "atari 0.46x vs 0.34x (≈)"),
        ("teacher-distill", CORRUPTED_TEACHER, "atari 0.40x vs 0.34x (≈)"),
    )
    return [claim("2", f"{suite} larger: {SHORT[a]} > {SHORT[b]}", said, pick(a), pick(b), reps) for a, b, said in pairs]


def table_7_claims(pool: Pool, suite: str, reps: int) -> list[Claim | None]:
    ppd = select(pool, pool.original, suite, "ppd", "larger")
    ppo = select(pool, pool.original, suite, BASELINE, "larger")
    return [claim("7", f"{suite} larger: ppd > ppo", "atari 1.16x vs 0.38x", ppd, ppo, reps)]


def cell(runs: list[Run], reps: int) -> str:
    aggregate = aggregate_fractions(runs, reps) if runs else None
    return aggregate.text() if aggregate else ""


def progress(grids: Sequence[str]) -> list[str]:
    """One line per grid: its finished runs against the runs its committed spec plans, and its settings that
    differ from today's defaults."""
    lines = []
    unfinished = []
    for out in grids:
        name = os.path.basename(os.path.normpath(out))
        runs = read_runs(out)
        spec = os.path.join(out, "spec.yaml")
        count = len(plan(load_spec(spec), out).runs) if os.path.exists(spec) else None
        planned = f" of {count} planned" if count is not None else ""
        if count is not None and len(runs) < count:
            unfinished.append(f"`{name}`")
        epochs = sorted({str(e) for e in (ppd_epochs(run) for run in runs) if e is not None})
        said = f"`{out}`: {len(runs)} finished runs{planned}"
        if planned:
            envs = sorted({run.env for run in runs})
            said += f" (on {', '.join(envs)})" if envs else ""
        if epochs:
            said += f"; PPD with {'/'.join(epochs)} epochs per rollout"
        if name in SHARED_CLIP_GRIDS:
            said += "; actor and critic gradients clipped together (before issue 16)"
        lines.append(f"- {said}.")
    if unfinished:
        lines.append(
            f"\n**Partial:** {', '.join(unfinished)} {'is' if len(unfinished) == 1 else 'are'} still running. Every "
            "table and verdict below is of the finished runs only, and can change when the rest finish."
        )
    return lines


def ppd_epochs(run: Run) -> int | None:
    """``n_epochs`` of a PPD run, from its results.json."""
    path = os.path.join(run.folder, "results.json")
    if run.method != "ppd" or not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f).get("params", {}).get("n_epochs")


def table_1_section(pool: Pool, suites: list[str], reps: int) -> list[str]:
    lines = [
        "## Table 1: students of original teachers, fraction of the teacher's score\n",
        "| size | source | td | sd | ppd |",
        "| --- | --- | --- | --- | --- |",
    ]
    for size in SIZES:
        for suite in suites:
            ours = [
                cell([r for r in pool.original if r.suite == suite and r.student == size and r.method == m], reps)
                for m in METHODS
            ]
            paper = PAPER_TABLE_1_CELLS.get((PAPER_SUITE.get(suite, suite), size))
            if paper and any(ours):
                lines.append(f"| {size} | paper, {PAPER_SUITE.get(suite, suite)} | " + " | ".join(paper) + " |")
            if any(ours):
                lines.append(f"| {size} | here, {suite} | " + " | ".join(ours) + " |")
    return lines


def table_2_section(pool: Pool, suites: list[str], reps: int) -> list[str]:
    lines = [
        "## Table 2: larger students of corrupted teachers, fraction of the ORIGINAL teacher's score\n",
        "| source | corrupted teacher | td | sd | ppd |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| paper, {suite} | " + " | ".join(paper) + " |" for suite, paper in PAPER_TABLE_2_CELLS.items()]
    for suite in suites:
        chosen = [r for r in pool.imperfect if r.suite == suite]
        ours = [cell([r for r in chosen if r.method == CORRUPTED_TEACHER], reps)]
        ours += [cell([r for r in chosen if r.method == m and r.student == "larger"], reps) for m in METHODS]
        if any(ours):
            lines.append(f"| here, {suite} | " + " | ".join(ours) + " |")
    if any(run.suite == "mujoco" for run in pool.imperfect):
        lines.append("\nThe paper ran no imperfect teachers on MuJoCo; its Atari row is the one to compare with.")
    corrupted = [run for run in pool.imperfect if run.method == CORRUPTED_TEACHER]
    if corrupted:
        fractions = [run.fraction for run in corrupted]
        variants = ", ".join(sorted({run.variant for run in corrupted}))
        lines.append(
            f"\nThe {len(corrupted)} corrupted teachers ({variants}) keep {min(fractions):.3f} to {max(fractions):.3f} "
            "of their original's score here, on the students' evaluation episodes."
        )
    return lines


def table_7_section(pool: Pool, suites: list[str], reps: int) -> list[str]:
    lines = [
        "## Table 7: larger students against PPO from scratch, fraction of the (original) teacher's score\n",
        "| source | ppo | td | sd | ppd |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| paper, {suite} | " + " | ".join(paper) + " |" for suite, paper in PAPER_TABLE_7_CELLS.items()]
    for suite in suites:
        chosen = [r for r in pool.original if r.suite == suite and r.student == "larger"]
        # PPO from scratch only where the distilled students have the same teachers to compare with
        distilled = {pool.stratum(r) for r in chosen if r.method != BASELINE}
        chosen = [r for r in chosen if pool.stratum(r) in distilled]
        ours = [cell([r for r in chosen if r.method == m], reps) for m in (BASELINE, *METHODS)]
        if ours[0]:  # a suite without the baseline has no Table 7 row
            lines.append(f"| here, {suite} | " + " | ".join(ours) + " |")
    return lines


def summary(grids: Sequence[str], reps: int) -> str:
    """The results summary page: the paper's Tables 1, 2 and 7 beside the grids' numbers, and each claim's verdict."""
    pool = load(grids)
    suites = sorted({run.suite for run in pool.original + pool.imperfect})
    command = "python benchmarks/paper_claims.py " + " ".join(grids) + (f" --reps {reps}" if reps != DEFAULT_REPS else "")
    lines = [
        "# Results summary: the paper's claims against these grids",
        "",
        f"Built from the committed records with `{command} --out docs/results/summary.md`.",
        "",
        "Cells are geometric IQMs of per-run fractions of the teacher's score over environments x seeds, with "
        f"95% stratified-bootstrap intervals ({reps:,} replications); † marks fewer than 4 scores (the IQM is then a "
        "plain geometric mean), no interval is given from fewer than 3 seeds, and n counts the scores. The paper "
        "used 5 seeds and Atari, not MinAtar: its rows are quoted from paper.md §8 for comparison, not rebuilt.",
        "",
        "## Grids",
        "",
        *progress(grids),
        "",
        *table_1_section(pool, suites, reps),
        "",
        *table_2_section(pool, suites, reps),
        "",
        *table_7_section(pool, suites, reps),
        "",
        "## Claims",
        "",
        "Each claim A > B is the ratio of A's and B's geometric IQMs over the environments x seeds both have, with a "
        "paired 95% bootstrap interval (run i of A and of B share teacher seed i). Holds: the interval lies above 1; "
        "does not hold: below 1; not separable at this budget: it contains 1. Claims against the teacher compare "
        "with 1.",
        "",
        "| table | claim (A > B) | paper | here: A / B [95%] | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for suite in suites:
        for found in table_1_claims(pool, suite, reps) + table_2_claims(pool, suite, reps) + table_7_claims(pool, suite, reps):
            if found is not None:
                lines.append(found.row())
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("grids", nargs="+", help="grid output folders (committed ones under docs/results/)")
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS, help="bootstrap replications")
    parser.add_argument("--out", help="write the page to this file (default: print it)")
    args = parser.parse_args(argv)
    page = summary(args.grids, args.reps)
    if args.out:
        with open(args.out, "w") as f:
            f.write(page)
    else:
        print(page, end="")


if __name__ == "__main__":
    main()
