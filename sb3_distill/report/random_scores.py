"""The uniformly random policy's score per environment, the base of the fractions of runs whose teacher's
score is not positive, measured once and kept in ``OUT/random_scores.json``.

Each entry records the mean return, where it comes from (``"measured"``, or ``"table"``: Badia et al.'s
for the Atari games the reports human-normalise), the seed and the episodes. A report rebuilt from a
grid's records (``docs/results/``) reads the scores from that file, so it gives the same numbers.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import Any

from sb3_distill.common.atomic_files import DamagedRecord, read_json_record, write_json_atomically
from sb3_distill.evaluation import random_score
from sb3_distill.report.tables import Run

RANDOM_SCORES = "random_scores.json"
#: The random policy is scored on evaluation seed 0 (environment seed 10,000), ...
RANDOM_SEED = 0
#: ... on the runs' evaluation episodes, or this many where their records do not say.
RANDOM_EPISODES = 20


def random_scores(out: str, runs: list[Run], verbose: bool = True) -> dict[str, dict[str, Any]]:
    """The random policy's score on every environment where some run's teacher score is not positive: read
    from ``out/random_scores.json``, measured (and added to it) where it has none.

    :param out: the grid's output folder
    :param runs: its runs
    :param verbose: say which environments are measured
    :return: per environment, ``{"mean_return", "source", "seed", "episodes"}``
    :raises DamagedRecord: ``random_scores.json`` is damaged, or an entry lacks a numeric ``mean_return``
        (the message names the file and the environment)
    """
    needed = sorted({run.env for run in runs if run.random_normalised})
    if not needed:
        return {}
    path = os.path.join(out, RANDOM_SCORES)
    try:
        cached = read_json_record(path)
    except FileNotFoundError:
        cached = {}
    scores: dict[str, dict[str, Any]] = {}
    for env in needed:
        if env in cached:
            scores[env] = _checked(path, env, cached[env])
            continue
        episodes = max((run.eval_episodes for run in runs if run.env == env and run.eval_episodes), default=RANDOM_EPISODES)
        if verbose:
            print(f"measuring the random policy's score on {env} (seed {RANDOM_SEED}, {episodes} episodes) for {path}")
        mean, source = random_score(env, RANDOM_SEED, episodes)
        scores[env] = {"mean_return": mean, "source": source, "seed": RANDOM_SEED, "episodes": episodes}
    if any(env not in cached for env in needed):
        write_json_atomically(path, {**cached, **scores})
    return scores


def _checked(path: str, env: str, entry: Any) -> dict[str, Any]:
    value = entry.get("mean_return") if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DamagedRecord(
            f"{path} is damaged: {env!r} has no numeric mean_return (got {entry!r}); delete the entry to measure it again."
        )
    return entry


def with_random_scores(runs: list[Run], scores: dict[str, dict[str, Any]]) -> list[Run]:
    """The runs, each with its environment's random score where ``scores`` has one."""
    return [replace(run, random_return=float(scores[run.env]["mean_return"])) if run.env in scores else run for run in runs]


def random_scores_text(scores: dict[str, dict[str, Any]]) -> str:
    """One sentence on where the random scores come from, for the report."""
    parts = []
    for env, entry in sorted(scores.items()):
        how = (
            "Badia et al.'s table"
            if entry.get("source") == "table"
            else f"measured on seed {entry.get('seed', '?')}, {entry.get('episodes', '?')} episodes"
        )
        parts.append(f"{env} {entry['mean_return']:.4g} ({how})")
    return f"Random policy's mean return ({RANDOM_SCORES}): " + "; ".join(parts) + "."
