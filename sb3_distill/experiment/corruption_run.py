"""Write an imperfect copy of a teacher (paper §8.4: parameters + N(0, σ²) noise) and score both."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from sb3_distill.common.teacher_sources import CONFIG_FILE, load_teacher, teacher_env_id
from sb3_distill.corruption import corrupt_model_file
from sb3_distill.experiment.configs import CorruptionConfig
from sb3_distill.evaluation import Score, evaluation_env, score


@dataclass(frozen=True)
class CorruptionResult:
    """The corrupted teacher's path, both teachers' scores (``None`` without an environment) and ``config.json``."""

    path: str
    original_score: Score | None
    corrupted_score: Score | None
    record: dict[str, Any]


def corrupt(config: CorruptionConfig, out_path: str, verbose: int = 1, command: str | None = None) -> CorruptionResult:
    """Write the corrupted copy of ``config.teacher`` to ``out_path`` (a .zip), with ``config.json`` beside it.

    Both teachers are evaluated on the environment (``config.env``, or the one the teacher names),
    on seed ``config.seed + 10,000``.

    :param config: what to corrupt and how
    :param out_path: the corrupted teacher's .zip
    :param verbose: 0: silent; 1: where it was written and both scores
    :param command: the command line, recorded in ``config.json``
    """
    record_path = os.path.join(os.path.dirname(os.path.abspath(out_path)), CONFIG_FILE)
    if _describes_another_teacher(record_path):
        raise ValueError(
            f"{record_path} describes another teacher (how it was trained and its score), and the corrupted copy's "
            f"record would replace it; write the copy to a folder of its own (--out DIR/{os.path.basename(out_path)})."
        )
    out = corrupt_model_file(config.teacher, out_path, config.sigma, config.seed, best=config.best)
    env_id = config.env or teacher_env_id(config.teacher)
    record: dict[str, Any] = {
        "command": command,
        "env": env_id,
        "corrupted_from": config.teacher,
        "sigma": config.sigma,
        "seed": config.seed,
    }
    if verbose:
        print(f"corrupted teacher written to {out}")
    scores: dict[str, Score] = {}
    if env_id is not None:
        for name, source in (("original", config.teacher), ("corrupted", out)):
            env = evaluation_env(env_id, config.seed)
            teacher = load_teacher(source, env=env, best=config.best and name == "original", trust_pickle=config.trust_pickle)
            scores[name] = score(teacher, env, config.eval_episodes)
            record[f"{name}_mean_return"] = scores[name].mean
            if verbose:
                print(
                    f"{name} teacher mean return over {config.eval_episodes} episodes: "
                    f"{scores[name].mean:.1f} +/- {scores[name].std:.1f}"
                )
    with open(record_path, "w") as file:
        json.dump(record, file, indent=2)
    return CorruptionResult(out, scores.get("original"), scores.get("corrupted"), record)


def _describes_another_teacher(record_path: str) -> bool:
    """Whether ``record_path`` is a teacher's record other than an earlier corrupted copy's (which is replaced)."""
    try:
        with open(record_path) as file:
            record = json.load(file)
    except FileNotFoundError:
        return False
    except ValueError:
        return True  # unreadable: not ours to overwrite
    return not (isinstance(record, dict) and "corrupted_from" in record)
