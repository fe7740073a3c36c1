"""Is one method of a grid at least level with another at chosen steps? Per environment, teacher variant and
student size, the method's mean score over seeds against the other's 95% bootstrap interval.

    python benchmarks/compare_at.py results/ppd-early-mujoco "ppd preset=None" student-distill --at 250k,500k,1M

"level" means the mean is inside the interval, "above" above it, "BELOW" below it: issue 6's acceptance
(the new default PPD within student-distill's interval or above it, at every checkpoint). The returns
are those of ``sb3-distill report --at`` (``returns_at``): each run's first evaluation at or after the step. Each is
divided by the run's own teacher's score (``--raw``: not), because seeds have different teachers: on
MuJoCo their returns differ by 2x, which would make every interval wide enough to pass.
"""

from __future__ import annotations

import argparse

import numpy as np

from sb3_distill.cli.report import parse_steps
from sb3_distill.report.curves import mean_interval, returns_at
from sb3_distill.report.tables import SIZE_ORDER, Run, _ordered, read_runs, score_text


def _scale(run: Run, raw: bool) -> float:
    if raw:
        return 1.0
    teacher = run.score(run.teacher_return)
    if teacher <= 0:
        raise SystemExit(f"{run.env}'s teacher scores {teacher:g} <= 0, so fractions of it mean nothing; compare with --raw.")
    return teacher


def _cell_returns(runs: list[Run], at: dict[Run, np.ndarray], k: int, cell: tuple[str, str, str], label: str) -> np.ndarray:
    """The finite returns at the ``k``-th step of the runs of method ``label`` in one (env, variant, size) cell."""
    values = np.array([at[r][k] for r in runs if (r.env, r.variant, r.student, r.method) == (*cell, label)])
    return values[np.isfinite(values)]


def compare(out: str, method: str, reference: str, steps: list[int], reps: int, raw: bool = False) -> int:
    """Print one line per cell; return how many cells are below the reference's interval."""
    runs = read_runs(out)
    at = {run: returns_at(run, steps) / _scale(run, raw) for run in runs}  # each evaluations.csv read once
    below = 0
    print(f"| env | teachers | size | step | {method} | {reference} [95% interval] | verdict |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for env in sorted({r.env for r in runs}):
        for variant in sorted({r.variant for r in runs if r.env == env} - {"no-teacher"}):
            for size in _ordered({r.student for r in runs if r.env == env}, SIZE_ORDER):
                for k, step in enumerate(steps):
                    cell = (env, variant, size)
                    ours, theirs = _cell_returns(runs, at, k, cell, method), _cell_returns(runs, at, k, cell, reference)
                    if not ours.size or not theirs.size:
                        continue
                    low, high = mean_interval(theirs, reps)
                    verdict = "above" if ours.mean() > high else "level" if ours.mean() >= low else "BELOW"
                    below += verdict == "BELOW"
                    print(
                        f"| {env} | {variant} | {size} | {step:,} | {score_text(ours.mean())} (n={ours.size}) | "
                        f"{score_text(theirs.mean())} [{score_text(low)}, {score_text(high)}] (n={theirs.size}) | {verdict} |"
                    )
    return below


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="a grid's output folder")
    parser.add_argument("method", help="the method's label in the report, e.g. 'ppd preset=None'")
    parser.add_argument("reference", help="the label it is compared against, e.g. student-distill")
    parser.add_argument("--at", type=parse_steps, required=True, help="steps, e.g. 250k,500k,1M")
    parser.add_argument("--reps", type=int, default=2000, help="bootstrap replications")
    parser.add_argument("--raw", action="store_true", help="compare returns, not fractions of each run's teacher")
    args = parser.parse_args()
    print("returns" if args.raw else "fractions of each run's teacher score")
    below = compare(args.out, args.method, args.reference, args.at, args.reps, args.raw)
    print(f"\n{below} cell(s) below the reference's interval")


if __name__ == "__main__":
    main()
