"""``package``: a finished distillation run as a folder ready for the Hugging Face Hub, in the RL Zoo's layout.

The folder holds what ``rl_zoo3.push_to_hub`` (and ``huggingface_sb3``) put in a model repository, so that the
Zoo's ``load_from_hub`` and ``enjoy``, ``huggingface_sb3.load_from_hub`` and sb3-distill's own ``hf://`` teachers
read it as they read the Zoo's agents::

    <algo>-<Env>.zip        the student (``ppo``; ``ppo_lstm`` for a recurrent student, the Zoo's RecurrentPPO)
    vec_normalize.pkl       its observation statistics, when the run has them
    config.yml              the hyperparameters, in the form the Zoo's ``enjoy`` reads
    args.yml, env_kwargs.yml, train_eval_metrics.zip
                            the rest of what the Zoo's ``load_from_hub`` downloads (only when ``enjoy`` can
                            rebuild the student's environment)
    config.json             the run's config and the distillation settings, scores and parameter counts
    <algo>-<Env>.onnx(.json) the exported student, checked against ``predict``, with its parity and latency
    README.md               the model card: the Hub's YAML front matter and the distillation's figures

The card is written last, so a folder with a ``README.md`` is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import yaml
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill import __version__, envs
from sb3_distill.common.atomic_files import atomic_path, write_json_atomically
from sb3_distill.common.safe_loading import load_model, loads
from sb3_distill.deploy.deployable import RUN_RESULTS_FILE, RUN_STUDENT_FILE, Deployable, find_deployable
from sb3_distill.deploy.export import ExportResult, ParityError, export
from sb3_distill.deploy.graph import NotExportable
from sb3_distill.evaluation import EVAL_SEED_OFFSET
from sb3_distill.experiment.distillation_run import RunResult, read_result
from sb3_distill.experiment.zoo_layout import UNREPLAYABLE_SUITES, zoo_algo, zoo_env_name, zoo_hyperparams

#: The Hub's file name of the statistics (``rl_zoo3.push_to_hub``'s; run folders call theirs ``vecnormalize.pkl``).
HUB_VECNORMALIZE_FILE = "vec_normalize.pkl"
CARD_FILE = "README.md"
PROJECT_URL = "https://github.com/sb3-distill/sb3-distill"
CONFIG_JSON = "config.json"
#: Tags of every packaged student, besides the environment's and the ones the Zoo gives its agents.
TAGS = ("sb3-distill", "policy-distillation")
#: Files of every package, or of packages of students the Zoo's enjoy can replay.
_FIXED_FILES = ("config.yml", "args.yml", "env_kwargs.yml", "train_eval_metrics.zip", CONFIG_JSON, CARD_FILE)
_ZOO_TAGS = ("deep-reinforcement-learning", "reinforcement-learning", "stable-baselines3")


class PackageError(ValueError):
    """The run cannot be packaged (the message says what was expected, what was found and how to fix it)."""


@dataclass(frozen=True)
class PackageResult:
    """What :func:`package` wrote.

    :param out: the package folder (absolute)
    :param files: the files written, relative to ``out``, in the order they were written (the card last)
    :param repo_url: the Hub repository it was uploaded to, or ``None`` without ``push``
    :param onnx: the export's figures, or ``None`` when there is no ONNX file
    :param onnx_skipped: why there is no ONNX file (``None`` when there is one, or when it was not asked for)
    """

    out: str
    files: tuple[str, ...]
    repo_url: str | None = None
    onnx: ExportResult | None = None
    onnx_skipped: str | None = None


def package(
    run_dir: str,
    out: str,
    push: str | None = None,
    force: bool = False,
    export_onnx: bool = True,
    trust_pickle: bool = False,
) -> PackageResult:
    """Write a Hub-ready folder for the finished distillation run in ``run_dir``, and upload it with ``push``.

    The student's zip and statistics are copied as they are, then loaded back from the package, as
    ``PPO.load`` (``RecurrentPPO.load``) and ``VecNormalize.load`` read them, before anything else is written.

    :param run_dir: the folder ``sb3-distill distill`` wrote (``student.zip``, ``results.json``, ...)
    :param out: the package folder; it must not exist or be empty, unless ``force``
    :param push: ``ORG/REPO``: upload the folder to this Hub model repository (created if missing); needs
        ``huggingface_hub`` and a token (``hf auth login`` or ``HF_TOKEN``), checked before anything is written
    :param force: write into an ``out`` that holds files already (files of the same names are replaced; a
        previous package's ONNX export or statistics that this run does not have are removed)
    :param export_onnx: add the ONNX export; without it the card has no deployment figures
    :param trust_pickle: read the run's files without the allow-list of safe types (only files you trust)
    :raises FileNotFoundError: ``run_dir`` does not exist, or lacks a file the run wrote (its statistics)
    :raises PackageError: ``run_dir`` is not a finished run, ``out`` is not empty, or the package does not load
    :raises ImportError: ``push`` without ``huggingface_hub``
    :raises RuntimeError: ``push`` without a Hugging Face token
    """
    # The checks of the token, the run and --out come first: a missing token is reported before minutes of
    # export, never after, and a refused package leaves no folder behind.
    token = _hub_token(push) if push is not None else None
    result, deployable = _finished_run(run_dir)
    out = os.path.abspath(out)
    _check_out(out, result.run_dir, force)
    config = result.config
    assert config.env is not None
    algo, algorithm_class = _algorithm(config.recurrent)
    name = f"{algo}-{zoo_env_name(config.env)}"

    created = not os.path.isdir(out)
    os.makedirs(out, exist_ok=True)
    written: list[str] = []

    def record(path: str) -> None:
        written.append(os.path.relpath(path, out))

    zip_path = os.path.join(out, f"{name}.zip")
    _copy(deployable.zip_path, zip_path)
    record(zip_path)
    stats_path = os.path.join(out, HUB_VECNORMALIZE_FILE)
    if deployable.vecnormalize_path is not None:
        _copy(deployable.vecnormalize_path, stats_path)
        record(stats_path)
    elif force:
        _remove(stats_path)  # another run's statistics would be read with this student
    try:
        model, vec_normalize = _check_loads(
            zip_path, _or_none(stats_path, deployable), algorithm_class, trust_pickle, deployable.zip_path
        )
    except Exception:
        for path in written:  # a package that does not load is not left where it could be published
            _remove(os.path.join(out, path))
        if created:
            os.rmdir(out)
        raise

    zoo_ready, zoo_reason = _zoo_replayable(config.env, config.student_observation, config.frame_stack)
    hyperparams = zoo_hyperparams(
        config.env,
        config.n_envs,
        config.steps,
        {**config.algorithm_params(), "policy_kwargs": model.policy_kwargs},
        vec_normalize,
        config.frame_stack,
        config.recurrent,
    )
    record(_write_text(os.path.join(out, "config.yml"), _yaml(hyperparams)))
    if zoo_ready:
        args = {
            "algo": algo,
            "env": config.env,
            "env_kwargs": None,
            "n_envs": config.n_envs,
            "n_timesteps": config.steps,
            "seed": config.seed,
            "distillation_method": config.method,
        }
        record(_write_text(os.path.join(out, "args.yml"), _yaml(args)))
        record(_write_text(os.path.join(out, "env_kwargs.yml"), _yaml({})))
        record(_metrics_zip(result.run_dir, os.path.join(out, "train_eval_metrics.zip")))
    elif force:  # the Zoo's load_from_hub must not find another student's files
        for stale in ("args.yml", "env_kwargs.yml", "train_eval_metrics.zip"):
            _remove(os.path.join(out, stale))

    onnx_path = os.path.join(out, f"{name}.onnx")
    exported, skipped = None, None
    if export_onnx:
        # Exported from the package's own copies, so the figures describe the files that are published.
        packaged = replace(deployable, zip_path=zip_path, vecnormalize_path=_or_none(stats_path, deployable))
        exported, skipped = _export(packaged, onnx_path, trust_pickle)
    if exported is not None:
        record(onnx_path)
        record(exported.report_path)
    elif force:  # a previous package's export of another student must not be published with this one
        _remove(onnx_path)
        _remove(onnx_path + ".json")

    settings = _package_settings(result, algo, algorithm_class, name, deployable, exported, skipped, zoo_ready)
    record(_write_json(os.path.join(out, CONFIG_JSON), settings))
    card = model_card(settings, exported, skipped, zoo_reason, push)
    record(_write_text(os.path.join(out, CARD_FILE), card))

    known = [f"{name}.zip", f"{name}.onnx", f"{name}.onnx.json", HUB_VECNORMALIZE_FILE, *_FIXED_FILES]
    repo_url = _upload(out, push, token, config.env, written, known) if push is not None else None
    return PackageResult(out, tuple(written), repo_url, exported, skipped)


# --------------------------------------------------------------------------------------------- the run's files


def _finished_run(run_dir: str) -> tuple[RunResult, Deployable]:
    """The run's result and files, or a :class:`PackageError` that says what the folder is instead."""
    if not os.path.exists(run_dir):
        raise FileNotFoundError(f"No such run folder: {run_dir!r}. Pass the folder sb3-distill distill --out wrote.")
    if not os.path.isdir(run_dir):
        hint = " (for a single zip, sb3-distill export writes its ONNX file)" if run_dir.endswith(".zip") else ""
        raise PackageError(
            f"package takes a finished distill run folder; {run_dir!r} is a file{hint}. Pass the folder "
            "sb3-distill distill --out wrote (student.zip, results.json)."
        )
    result = read_result(run_dir)
    if result is None:
        found = sorted(os.listdir(run_dir))
        shown = ", ".join(found[:8]) + (f" and {len(found) - 8} more" if len(found) > 8 else "") if found else "nothing"
        if os.path.isdir(os.path.join(run_dir, "checkpoints")) or os.path.isfile(os.path.join(run_dir, ".lock")):
            raise PackageError(
                f"{run_dir!r} is a distill run that has not finished: it has no {RUN_RESULTS_FILE} yet "
                f"(found: {shown}). Finish it with sb3-distill distill --resume {run_dir}, then package it."
            )
        raise PackageError(
            f"{run_dir!r} is not a distill run folder: expected {RUN_STUDENT_FILE} and {RUN_RESULTS_FILE}, as "
            f"sb3-distill distill --out writes them; found: {shown}. Pass a finished run's folder (a teacher or an RL "
            "Zoo run is not packaged here; sb3-distill export writes the ONNX file of any zip)."
        )
    return result, find_deployable(run_dir)


def _check_out(out: str, run_dir: str, force: bool) -> None:
    if out == run_dir or out.startswith(run_dir + os.sep):
        raise PackageError(
            f"--out {out} is inside the run folder {run_dir}: the package would mix with the run's files. "
            "Name a folder outside it."
        )
    if os.path.exists(out) and not os.path.isdir(out):
        raise PackageError(f"--out {out} is a file; name a folder (new, or empty).")
    if os.path.isdir(out) and os.listdir(out) and not force:
        raise PackageError(
            f"--out {out} exists and is not empty ({len(os.listdir(out))} entries): a package is refused there "
            "so that no other files are published with it. Name a new folder, or pass --force (force=True) to "
            "write over it."
        )


def _algorithm(recurrent: bool) -> tuple[str, type[BaseAlgorithm]]:
    """The Zoo's name and the class of the student: every method's student is a PPO model (``RecurrentPPO``,
    the Zoo's ``ppo_lstm``, for an LSTM student)."""
    if recurrent:
        from sb3_contrib import RecurrentPPO

        return zoo_algo(recurrent), RecurrentPPO
    from stable_baselines3 import PPO

    return zoo_algo(recurrent), PPO


def _check_loads(
    zip_path: str, stats_path: str | None, algorithm_class: type[BaseAlgorithm], trust_pickle: bool, source: str
) -> tuple[BaseAlgorithm, VecNormalize | None]:
    """Load the package's zip and statistics as users will (``algorithm_class.load``, ``VecNormalize.load``),
    through the safe reader, so that a package that would not load is never published."""
    try:
        model = load_model(algorithm_class, zip_path, device="cpu", trust_pickle=trust_pickle)
    except Exception as error:
        raise PackageError(
            f"The run's student {source} does not load as a {algorithm_class.__name__}, so it is not packaged: {error}"
        ) from error
    if stats_path is None:
        return model, None
    with open(stats_path, "rb") as file:
        stats = loads(file.read(), stats_path, "VecNormalize", trust_pickle)
    if not isinstance(stats, VecNormalize):
        raise PackageError(f"The packaged statistics {stats_path} hold a {type(stats).__name__}, not a VecNormalize.")
    return model, stats


def _zoo_replayable(env_id: str, student_observation: Any, frame_stack: int) -> tuple[bool, str | None]:
    """Whether the Zoo's ``enjoy`` can rebuild the student's environment from ``config.yml``, and why not."""
    suite = envs.suite_of(env_id).name
    if suite in UNREPLAYABLE_SUITES:
        return False, UNREPLAYABLE_SUITES[suite]
    if student_observation is not None:
        return False, "the student reads a subset of the observation, which no Zoo wrapper selects"
    if frame_stack > 1 and suite == "atari":
        return False, "the student stacks frames on top of the Atari frame stack, which the Zoo's config cannot name"
    return True, None


def _or_none(stats_path: str, deployable: Deployable) -> str | None:
    return stats_path if deployable.vecnormalize_path is not None else None


def _export(deployable: Deployable, path: str, trust_pickle: bool) -> tuple[ExportResult | None, str | None]:
    """The ONNX export, or why there is none: a student that cannot be exported is still packaged."""
    try:
        exported = export(deployable, path, format="onnx", trust_pickle=trust_pickle)
    except (NotExportable, ParityError, ImportError) as error:
        return None, str(error)
    # The figures travel with the package: name the files by their place in it, not by this machine's folders.
    with open(exported.report_path, encoding="utf-8") as file:
        figures = json.load(file)
    figures["path"] = os.path.basename(exported.path)
    figures["source"] = os.path.basename(deployable.zip_path)
    write_json_atomically(exported.report_path, figures)
    return exported, None


def _metrics_zip(run_dir: str, path: str) -> str:
    """``train_eval_metrics.zip``, which the Zoo's ``load_from_hub`` unpacks: the run's learning curve, if any."""
    with atomic_path(path) as temporary, zipfile.ZipFile(temporary, "w") as archive:
        for name in ("evaluations.csv", "best_model.json"):
            source = os.path.join(run_dir, name)
            if os.path.isfile(source):
                archive.write(source, arcname=name)
    return path


# ------------------------------------------------------------------------------------------------- settings


def teacher_label(config_teacher: str | None, recorded: str | None, env_id: str) -> str:
    """The teacher as a public card names it: a Hub id as it is, a local file by its name only (a card on the
    Hub should not show this machine's folders)."""
    if config_teacher is None:
        return f"sb3-distill's bundled {env_id} teacher"
    source = recorded or config_teacher
    if source.startswith("hf://"):
        return source
    return os.path.basename(os.path.normpath(source))


def _package_settings(
    result: RunResult,
    algo: str,
    algorithm_class: type[BaseAlgorithm],
    name: str,
    deployable: Deployable,
    exported: ExportResult | None,
    skipped: str | None,
    zoo_ready: bool,
) -> dict[str, Any]:
    """``config.json``: the run's config, the distillation's settings and figures, and the package's files."""
    config, record = result.config, result.record
    assert config.env is not None
    teacher = teacher_label(config.teacher, record.get("teacher"), config.env)
    run_config = json.loads(json.dumps(record.get("config") or config.to_dict()))  # plain JSON, lists for tuples
    run_config["teacher"] = teacher
    return {
        "env": config.env,  # where sb3-distill (export, evaluate, --teacher) reads the zip's environment
        "algo": algo,
        "algorithm": algorithm_class.__name__,
        "files": {
            "model": f"{name}.zip",
            "vec_normalize": HUB_VECNORMALIZE_FILE if deployable.vecnormalize_path is not None else None,
            "onnx": os.path.basename(exported.path) if exported is not None else None,
            "zoo": zoo_ready,
        },
        "distillation": {
            "teacher": teacher,
            "method": config.method,
            "student": config.student,
            "student_net_arch": record.get("student_net_arch"),
            "steps": config.steps,
            "timesteps": result.timesteps,
            "seed": config.seed,
            "n_envs": config.n_envs,
            "distill_loss": record.get("distill_loss"),
            "kl_mode": config.kl_mode,
            "distill_lambda": record.get("distill_lambda"),
            "normalize": deployable.vecnormalize_path is not None,
            "frame_stack": config.frame_stack,
            "student_observation": run_config.get("student_observation"),
            "recurrent": config.recurrent,
        },
        "evaluation": {
            "episodes": result.student_score.episodes,
            "deterministic": record.get("eval_deterministic", True),
            "env_seed": config.seed + EVAL_SEED_OFFSET,
            "teacher_given": config.teacher_score is not None,
            "teacher_mean_reward": result.teacher_score.mean,
            "teacher_std_reward": result.teacher_score.std,
            "student_mean_reward": result.student_score.mean,
            "student_std_reward": result.student_score.std,
        },
        "parameters": {
            "teacher_policy_parameters": record.get("teacher_policy_parameters"),
            "student_policy_parameters": record.get("student_policy_parameters"),
            "onnx_parameters": exported.parameters if exported is not None else None,
        },
        "onnx_skipped": skipped,
        "config": run_config,
        "sb3_distill_version": __version__,
    }


# --------------------------------------------------------------------------------------------------- the card


def card_metadata(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The card's YAML front matter: the Zoo's (``library_name``, tags, ``model-index`` with the student's
    ``mean_reward`` as ``"mean +/- std"``), the distillation's tags, and its figures under ``sb3_distill``."""
    env_id = settings["env"]
    evaluation, distillation, parameters = settings["evaluation"], settings["distillation"], settings["parameters"]
    tags = [env_id, *_ZOO_TAGS, *TAGS]
    if settings["files"]["onnx"] is not None:
        tags.append("onnx")
    mean, std = evaluation["student_mean_reward"], evaluation["student_std_reward"]
    return {
        "library_name": "stable-baselines3",
        "tags": tags,
        "model-index": [
            {
                "name": settings["algorithm"],
                "results": [
                    {
                        "task": {"type": "reinforcement-learning", "name": "reinforcement-learning"},
                        "dataset": {"name": env_id, "type": env_id},
                        "metrics": [
                            {
                                "type": "mean_reward",
                                "value": f"{mean:.2f} +/- {std:.2f}",
                                "name": "mean_reward",
                                "verified": False,
                            }
                        ],
                    }
                ],
            }
        ],
        "sb3_distill": {
            "env": env_id,
            "method": distillation["method"],
            "teacher": distillation["teacher"],
            "student": distillation["student"],
            "eval_episodes": evaluation["episodes"],
            "teacher_mean_reward": evaluation["teacher_mean_reward"],
            "teacher_std_reward": evaluation["teacher_std_reward"],
            "student_mean_reward": mean,
            "student_std_reward": std,
            "teacher_policy_parameters": parameters["teacher_policy_parameters"],
            "student_policy_parameters": parameters["student_policy_parameters"],
        },
    }


def model_card(
    settings: Mapping[str, Any],
    exported: ExportResult | None,
    skipped: str | None,
    zoo_reason: str | None,
    repo_id: str | None = None,
) -> str:
    """``README.md``: front matter, what the student is, the teacher's and the student's figures, the ONNX
    export's, and how to load it."""
    env_id, algo, algorithm = settings["env"], settings["algo"], settings["algorithm"]
    distillation, evaluation, parameters = settings["distillation"], settings["evaluation"], settings["parameters"]
    files = settings["files"]
    episodes = evaluation["episodes"]
    how = "deterministic" if evaluation["deterministic"] else "stochastic"
    repo = repo_id or f"ORG/{files['model'][: -len('.zip')]}"
    # a teacher's score given to the run (a grid measures it once) was not measured by this run
    given = "; the teacher's score was given to the run, measured the same way" if evaluation["teacher_given"] else ""

    def count(value: Any) -> str:
        return f"{value:,}" if isinstance(value, int) else "n/a"

    lines = [
        "---",
        _yaml(card_metadata(settings)).rstrip("\n"),
        "---",
        "",
        f"# **{algorithm}** student distilled from a teacher, playing **{env_id}**",
        "",
        f"A **{algorithm}** agent playing **{env_id}**, trained by policy distillation with "
        f"[sb3-distill]({PROJECT_URL}) (method `{distillation['method']}`) from {distillation['teacher']}, "
        "on [stable-baselines3](https://github.com/DLR-RM/stable-baselines3).",
        "",
        "## Teacher and student",
        "",
        f"Mean return ± standard deviation over {episodes} episodes ({how} actions, one environment seeded "
        f"{evaluation['env_seed']} for both){given}.",
        "",
        "| | agent | mean return | policy parameters |",
        "|---|---|---|---|",
        f"| teacher | {distillation['teacher']} | {evaluation['teacher_mean_reward']:.2f} ± "
        f"{evaluation['teacher_std_reward']:.2f} | {count(parameters['teacher_policy_parameters'])} |",
        f"| student | {algorithm}, size `{distillation['student']}` | {evaluation['student_mean_reward']:.2f} ± "
        f"{evaluation['student_std_reward']:.2f} | {count(parameters['student_policy_parameters'])} |",
        "",
        "Policy parameters are those of the network that acts (no value function).",
        "",
        "## Distillation",
        "",
        "| setting | value |",
        "|---|---|",
        f"| method | `{distillation['method']}` |",
        f"| loss | `{distillation['distill_loss']}` (λ {distillation['distill_lambda']}) |",
        f"| student size | `{distillation['student']}` (net_arch `{json.dumps(distillation['student_net_arch'])}`) |",
        f"| steps | {distillation['timesteps']:,} ({distillation['n_envs']} environments) |",
        f"| seed | {distillation['seed']} |",
        f"| observation statistics | {'VecNormalize (`vec_normalize.pkl`)' if distillation['normalize'] else 'none'} |",
    ]
    if distillation["frame_stack"] > 1:
        lines.append(f"| frame stack | {distillation['frame_stack']} |")
    if distillation["student_observation"] is not None:
        lines.append(f"| observation entries read | {distillation['student_observation']} |")
    lines += ["", "The run's whole config is in `config.json`, the hyperparameters in the Zoo's form in `config.yml`.", ""]
    lines += _onnx_section(exported, skipped)
    lines += [
        "## Usage",
        "",
        "```python",
        "import gymnasium as gym",
        f"from {'sb3_contrib' if algo == 'ppo_lstm' else 'stable_baselines3'} import {algorithm}",
        "from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize",
        "from huggingface_sb3 import load_from_hub",
        "",
        f'model = {algorithm}.load(load_from_hub("{repo}", "{files["model"]}"))',
        f'env = DummyVecEnv([lambda: gym.make("{env_id}")])',
    ]
    if files["vec_normalize"] is not None:
        lines += [
            f'env = VecNormalize.load(load_from_hub("{repo}", "{files["vec_normalize"]}"), env)',
            "env.training, env.norm_reward = False, False  # frozen statistics, raw rewards",
        ]
    if distillation["frame_stack"] > 1:
        lines += [
            "from stable_baselines3.common.vec_env import VecFrameStack",
            f"env = VecFrameStack(env, {distillation['frame_stack']})",
        ]
    lines += ["```", ""]
    if zoo_reason is None:
        lines += [
            "With the [RL Zoo](https://github.com/DLR-RM/rl-baselines3-zoo):",
            "",
            "```",
            f"python -m rl_zoo3.load_from_hub --algo {algo} --env {env_id} -orga {repo.split('/')[0]} "
            f"-name {repo.split('/')[1]} -f logs/",
            f"python -m rl_zoo3.enjoy --algo {algo} --env {env_id} -f logs/",
            "```",
            "",
        ]
    else:
        lines += [f"The RL Zoo's `enjoy` cannot replay this student: {zoo_reason}.", ""]
    lines += [
        "As a teacher for another distillation: `sb3-distill distill --teacher hf://" + repo + "`.",
        "",
        f"Packaged by sb3-distill {settings['sb3_distill_version']}.",
        "",
    ]
    return "\n".join(lines)


def _onnx_section(exported: ExportResult | None, skipped: str | None) -> list[str]:
    if exported is None:
        if skipped is None:
            return []
        return ["## ONNX", "", f"No ONNX export: {skipped}", ""]
    parity = exported.parity
    if parity.max_abs_difference is not None:
        check = f"largest action difference from `predict` {parity.max_abs_difference:.2g} (tolerance {parity.tolerance:g})"
    else:
        check = f"actions equal to `predict`'s on {parity.agreement:.1%}"
    name = os.path.basename(exported.path)
    inside = " (the observation statistics are inside the graph)" if exported.settings.get("normalization_inside") else ""
    lines = [
        "## ONNX",
        "",
        f"`{name}` reads the environment's raw observation{inside} and returns the action; inputs "
        f"`{', '.join(exported.inputs)}`, outputs `{', '.join(exported.outputs)}`. Figures in `{name}.json`.",
        "",
        "| | |",
        "|---|---|",
        f"| parity | {check}, on {parity.observations:,} observations of {exported.env_id}, through {parity.runtime} |",
        f"| file size | {exported.file_bytes:,} bytes |",
        f"| parameters | {exported.parameters:,} |",
    ]
    if exported.latency_ms:
        threads = exported.settings.get("threads")
        for runtime, label in (("exported", "ONNX"), ("sb3_predict", "SB3 predict")):
            cells = ", ".join(
                f"batch {size}: {t['median']:.3f} / {t['p99']:.3f}" for size, t in exported.latency_ms[runtime].items()
            )
            lines.append(f"| latency {label}, ms (median / p99, {threads} thread) | {cells} |")
    return [*lines, ""]


# ------------------------------------------------------------------------------------------------- the Hub


def _hub_token(repo_id: str) -> str:
    """The token for ``push``, checked before anything is written or sent."""
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ValueError(f"--push takes a Hub repository ORG/REPO, got {repo_id!r}.")
    try:
        import huggingface_hub
    except ImportError:
        raise ImportError("--push needs huggingface_hub: pip install 'sb3-distill[hub]'.") from None
    token = huggingface_hub.get_token()
    if not token:
        raise RuntimeError(
            f"--push {repo_id} needs a Hugging Face token: log in with huggingface-cli login (hf auth login), or set "
            "HF_TOKEN; nothing was written."
        )
    return token


def _upload(out: str, repo_id: str, token: str | None, env_id: str, files: list[str], known: list[str]) -> str:
    """Upload the package's own files (not others that a forced ``out`` holds), and delete the repository's
    files of a previous package that this one does not have (an export of another student); the repository's
    other files are kept."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    url = api.create_repo(repo_id, repo_type="model", exist_ok=True)
    api.upload_folder(
        repo_id=repo_id,
        folder_path=out,
        repo_type="model",
        commit_message=f"sb3-distill package: {env_id} student",
        allow_patterns=files,
        delete_patterns=[name for name in known if name not in files],
    )
    return str(url)


# ------------------------------------------------------------------------------------------------- writing


def _copy(source: str, destination: str) -> None:
    with atomic_path(destination) as temporary:
        shutil.copyfile(source, temporary)


def _remove(path: str) -> None:
    if os.path.isfile(path):
        os.remove(path)


def _write_text(path: str, text: str) -> str:
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
    return path


def _write_json(path: str, data: dict[str, Any]) -> str:
    write_json_atomically(path, data)
    return path


def _yaml(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False, allow_unicode=True)


__all__ = ["PackageError", "PackageResult", "card_metadata", "model_card", "package"]
