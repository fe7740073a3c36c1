"""Write an imperfect copy of a teacher (paper §8.4: parameters + N(0, σ²) noise) and score both.

σ is given, or learned so that the copy keeps a target fraction of the teacher's random-normalised score,
``(corrupted - random) / (original - random)``: the random policy's score is Badia et al.'s for the Atari
games the reports human-normalise, and is measured on the same evaluation episodes elsewhere.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from sb3_distill.common.teacher_sources import CONFIG_FILE, load_teacher, source_frame_stack, teacher_env_id
from sb3_distill.corruption import corrupt_model_file, search_sigma
from sb3_distill.evaluation import Score, evaluation_env, random_score, score
from sb3_distill.experiment.configs import ConfigError, CorruptionConfig


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
    on seed ``config.seed + 10,000``. With ``config.target_fraction``, σ is searched first (see
    :func:`sb3_distill.corruption.search_sigma`): ``config.json`` then records the σ found, the target, the
    tolerance, the original, corrupted and random scores, the fraction kept and the search's steps.

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
    if config.target_fraction is not None:
        return _corrupt_to_target(config, out_path, record_path, verbose, command)
    assert config.sigma is not None  # a config without target_fraction has one
    out = corrupt_model_file(config.teacher, out_path, config.sigma, config.seed, best=config.best)
    env_id = config.env or teacher_env_id(config.teacher)
    # the copy's zip alone does not say that its agent reads stacked observations: its record does
    frame_stack = source_frame_stack(config.teacher)
    record: dict[str, Any] = {
        "command": command,
        "env": env_id,
        "corrupted_from": config.teacher,
        "sigma": config.sigma,
        "seed": config.seed,
        **({"frame_stack": frame_stack} if frame_stack > 1 else {}),
    }
    if verbose:
        print(f"corrupted teacher written to {out}")
    scores: dict[str, Score] = {}
    if env_id is not None:
        for name, source in (("original", config.teacher), ("corrupted", out)):
            env = evaluation_env(env_id, config.seed)
            teacher = load_teacher(
                source,
                env=env,
                best=config.best and name == "original",
                trust_pickle=config.trust_pickle,
                frame_stack=frame_stack,
            )
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


def _corrupt_to_target(
    config: CorruptionConfig, out_path: str, record_path: str, verbose: int, command: str | None
) -> CorruptionResult:
    """Search σ for ``config.target_fraction``, then write the copy with the σ found (nothing if none is)."""
    target = config.target_fraction
    assert target is not None
    env_id = config.env or teacher_env_id(config.teacher)
    if env_id is None:
        raise ConfigError(
            f"env must be given to learn sigma for target_fraction {target}: {config.teacher!r} names no environment.", "env"
        )

    frame_stack = source_frame_stack(config.teacher)

    def evaluate(source: str, best: bool) -> Score:
        env = evaluation_env(env_id, config.seed)
        try:
            teacher = load_teacher(source, env=env, best=best, trust_pickle=config.trust_pickle, frame_stack=frame_stack)
            return score(teacher, env, config.eval_episodes)
        finally:
            env.close()

    original = evaluate(config.teacher, config.best)
    random_mean, random_source = random_score(env_id, config.seed, config.eval_episodes)
    if verbose:
        print(
            f"original teacher mean return over {config.eval_episodes} episodes: {original.mean:.1f} +/- "
            f"{original.std:.1f}; random policy: {random_mean:.1f} ({random_source})"
        )
    if not original.mean > random_mean:
        raise ConfigError(
            f"target_fraction {target} is undefined for {config.teacher!r}: its mean return {original.mean:.4g} is not "
            f"above the random policy's {random_mean:.4g}, so no fraction of its score can be kept.",
            "target_fraction",
        )
    corrupted: dict[float, Score] = {}
    with tempfile.TemporaryDirectory(prefix="sb3-distill-corrupt-") as scratch:

        def fraction_kept(sigma: float) -> float:
            candidate = os.path.join(scratch, f"candidate{len(corrupted)}", os.path.basename(out_path))
            corrupt_model_file(config.teacher, candidate, sigma, config.seed, best=config.best)
            corrupted[sigma] = evaluate(candidate, False)
            fraction = (corrupted[sigma].mean - random_mean) / (original.mean - random_mean)
            if verbose:
                print(f"sigma {sigma:.4g}: mean return {corrupted[sigma].mean:.1f}, fraction kept {fraction:.3f}")
            return fraction

        search = search_sigma(fraction_kept, target, config.tolerance, config.max_evaluations)
    if search.sigma is None:
        sigma, fraction = search.closest
        jump = (
            ""
            if search.jump is None
            else f"; it jumps across the band between sigma {search.jump[0]:.5g} and {search.jump[1]:.5g} (more "
            f"evaluation episodes than {config.eval_episodes} smooth it)"
        )
        raise ConfigError(
            f"target_fraction {target} was not reached within {len(search.trace)} evaluations (tolerance "
            f"{config.tolerance}, at most {config.max_evaluations}): the closest fraction kept was {fraction:.3f}, "
            f"at sigma {sigma:.4g}{jump}.",
            "target_fraction",
        )
    # the same σ and seed give the same noise: this is the copy that was evaluated
    out = corrupt_model_file(config.teacher, out_path, search.sigma, config.seed, best=config.best)
    found = corrupted[search.sigma]
    record: dict[str, Any] = {
        "command": command,
        "env": env_id,
        "corrupted_from": config.teacher,
        "sigma": search.sigma,
        "seed": config.seed,
        **({"frame_stack": frame_stack} if frame_stack > 1 else {}),
        "target_fraction": target,
        "tolerance": config.tolerance,
        "max_evaluations": config.max_evaluations,
        "eval_episodes": config.eval_episodes,
        "original_mean_return": original.mean,
        "corrupted_mean_return": found.mean,
        "random_mean_return": random_mean,
        "random_score_source": random_source,
        "fraction": search.fraction,
        "search": [
            {"sigma": sigma, "corrupted_mean_return": corrupted[sigma].mean, "fraction": fraction}
            for sigma, fraction in search.trace
        ],
    }
    with open(record_path, "w") as file:
        json.dump(record, file, indent=2)
    if verbose:
        print(f"corrupted teacher (sigma {search.sigma:.4g}, fraction kept {search.fraction:.3f}) written to {out}")
    return CorruptionResult(out, original, found, record)


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
