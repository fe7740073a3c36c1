"""Run folders in the RL Zoo's layout, ``<log_folder>/<algo>/<Env>_<id>/``, so that ``rl_zoo3.enjoy`` runs the student.

A distillation run with ``zoo_log_folder`` (``sb3-distill distill --log-folder DIR``) goes to
``DIR/<algo>/<Env>_<id>/``, ``<id>`` being the Zoo's next free id (its ``get_latest_run_id`` + 1), and keeps
every file of an ordinary run folder (``student.zip``, ``vecnormalize.pkl``, ``results.json``,
``checkpoints/``, ``best_model.zip`` ...). When it finishes, it also writes what the Zoo's ``enjoy``,
``record_video`` and ``push_to_hub`` read::

    <Env>.zip                   the final student (a copy of student.zip)
    <Env>/vecnormalize.pkl      its VecNormalize statistics, when the student has them
    <Env>/config.yml            the hyperparameters, with ``normalize`` and the suite's wrappers (enjoy rebuilds
                                the environment from them)
    <Env>/args.yml              the command's arguments the Zoo reads: ``env``, ``env_kwargs``, ``algo``, ``seed`` ...
    <Env>/command.txt           the command line, when there is one

``<Env>`` is the Zoo's name of the environment: its Gymnasium id with ``/`` replaced by ``-``. The students
of every method are PPO models, so ``<algo>`` is ``ppo``, or the Zoo's ``ppo_lstm`` (sb3-contrib's
``RecurrentPPO``) for a recurrent student. Each file is written under a
temporary name and renamed, so a kill never leaves a half-written ``<Env>.zip`` for enjoy to load. This
module does not import ``rl_zoo3`` (``pip install 'sb3-distill[zoo]'`` installs it for enjoy).
"""

from __future__ import annotations

import glob
import math
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from stable_baselines3.common.vec_env import VecNormalize
from torch import nn

from sb3_distill import envs
from sb3_distill.common.atomic_files import DamagedRecord, atomic_path, read_json_record

#: The Zoo's algorithm folder of the students: every method's student is a PPO model ...
ZOO_ALGO = "ppo"
#: ... and a recurrent student a RecurrentPPO one, which the Zoo calls ``ppo_lstm``.
ZOO_RECURRENT_ALGO = "ppo_lstm"
#: The key of the layout in checkpoint manifests and ``results.json``.
ZOO_KEY = "zoo_layout"
#: Suites whose environments the Zoo's ``create_test_env`` cannot rebuild (``gym.spec`` does not know them).
UNREPLAYABLE_SUITES = {
    "procgen": "envpool's Procgen environments are not Gymnasium ones",
    "minatar": "MinAtar registers its environments with Gymnasium only when asked, which enjoy does not do",
}


def zoo_env_name(env_id: str) -> str:
    """The Zoo's folder and file name of an environment (huggingface_sb3's ``EnvironmentName``):
    ``ALE/Pong-v5`` -> ``ALE-Pong-v5``; of ``module:Env-v0``, the part after the colon."""
    name = env_id.replace("/", "-")
    return name.split(":", 1)[1] if name.count(":") == 1 else name


def latest_run_id(algo_folder: str, env_name: str) -> int:
    """The greatest ``<id>`` of the folders ``<env_name>_<id>`` in ``algo_folder`` (0 if none), as the Zoo's
    ``get_latest_run_id`` finds it."""
    latest = 0
    for path in glob.glob(os.path.join(glob.escape(algo_folder), glob.escape(env_name) + "_[0-9]*")):
        run_id = path.rsplit("_", 1)[-1]
        if path[: -len(run_id) - 1].endswith(env_name) and run_id.isdigit():
            latest = max(latest, int(run_id))
    return latest


def check_zoo_env(env_id: str) -> None:
    """Refuse an environment whose run the Zoo's enjoy could not replay.

    :raises ValueError: it belongs to a suite enjoy cannot rebuild (Procgen, MinAtar)
    """
    suite = envs.suite_of(env_id)
    if suite.name in UNREPLAYABLE_SUITES:
        raise ValueError(
            f"--log-folder: the RL Zoo's layout is for environments its enjoy can make; {env_id} cannot be "
            f"({UNREPLAYABLE_SUITES[suite.name]}). Write the run with --out instead."
        )


def zoo_algo(recurrent: bool) -> str:
    """The Zoo's name of the student's algorithm (its folder in the log folder, enjoy's ``--algo``)."""
    return ZOO_RECURRENT_ALGO if recurrent else ZOO_ALGO


def new_zoo_run_dir(log_folder: str, env_id: str, algo: str = ZOO_ALGO) -> str:
    """Create and return ``<log_folder>/<algo>/<Env>_<id>`` with the Zoo's next free ``<id>``.

    The folder is created exclusively, so two runs started together never share an id.
    """
    algo_folder = os.path.join(os.path.abspath(log_folder), algo)
    env_name = zoo_env_name(env_id)
    try:
        os.makedirs(algo_folder, exist_ok=True)
    except OSError as error:
        raise ValueError(f"--log-folder {log_folder}: cannot create {algo_folder} ({error.strerror or error}).") from None
    run_id = latest_run_id(algo_folder, env_name) + 1
    while True:
        path = os.path.join(algo_folder, f"{env_name}_{run_id}")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            run_id += 1
        except OSError as error:
            raise ValueError(f"--log-folder {log_folder}: cannot create {path} ({error.strerror or error}).") from None


@dataclass(frozen=True)
class ZooLayout:
    """That a run folder is a Zoo run folder, as its manifests and ``results.json`` store it.

    :param log_folder: the Zoo's log folder (absolute), the run being ``<log_folder>/<algo>/<Env>_<id>``
    :param env_name: ``<Env>``
    :param algo: the Zoo's name of the student's algorithm (:func:`zoo_algo`)
    """

    log_folder: str
    env_name: str
    algo: str = ZOO_ALGO

    def to_dict(self) -> dict[str, str]:
        return {"log_folder": self.log_folder, "algo": self.algo, "env_name": self.env_name}

    def enjoy_command(self, env_id: str, run_dir: str) -> str:
        """The Zoo's command that replays the run's student."""
        run_id = os.path.basename(os.path.normpath(run_dir)).rsplit("_", 1)[-1]
        return f"python -m rl_zoo3.enjoy --algo {self.algo} --env {env_id} -f {self.log_folder} --exp-id {run_id}"

    @classmethod
    def of_run(cls, run_dir: str, env_id: str) -> ZooLayout:
        """The layout of ``run_dir`` = ``<log_folder>/<algo>/<Env>_<id>``."""
        algo_folder = os.path.dirname(os.path.abspath(run_dir))
        return cls(os.path.dirname(algo_folder), zoo_env_name(env_id), os.path.basename(algo_folder))

    @classmethod
    def from_record(cls, record: Mapping[str, Any], run_dir: str) -> ZooLayout | None:
        """The layout a manifest or ``results.json`` of ``run_dir`` stores, or ``None`` for an ordinary run folder.

        The log folder is the one ``run_dir`` is in now (a log folder may have been moved since).
        """
        stored = record.get(ZOO_KEY)
        if not isinstance(stored, Mapping):
            return None
        algo = str(stored.get("algo", ZOO_ALGO))
        return cls(os.path.dirname(os.path.dirname(os.path.abspath(run_dir))), str(stored["env_name"]), algo)


def stored_zoo_layout(run_dir: str) -> ZooLayout | None:
    """The Zoo layout of the run in ``run_dir``, as its ``results.json`` or latest checkpoint records it
    (``None``: an ordinary run folder, or nothing recorded yet)."""
    from sb3_distill.runs import latest_checkpoint
    from sb3_distill.runs.checkpoints import CheckpointError

    try:
        return ZooLayout.from_record(read_json_record(os.path.join(run_dir, "results.json")), run_dir)
    except (FileNotFoundError, DamagedRecord):
        pass
    try:
        return ZooLayout.from_record(latest_checkpoint(run_dir).manifest, run_dir)
    except (CheckpointError, OSError, ValueError):
        return None


def zoo_hyperparams(
    env_id: str,
    n_envs: int,
    steps: int,
    algorithm_params: Mapping[str, Any],
    vec_normalize: VecNormalize | None,
    frame_stack: int = 1,
    recurrent: bool = False,
) -> dict[str, Any]:
    """``<Env>/config.yml``: the hyperparameters in the form the Zoo's ``get_saved_hyperparams`` reads.

    ``normalize`` is ``True`` for observations and rewards (the Zoo's meaning of ``true``), the Zoo's
    ``dict(norm_obs=..., norm_reward=...)`` text otherwise, and ``False`` without statistics; Atari runs get
    the wrapper and frame stack the run evaluated with, and other runs the student's own frame stack (the
    Zoo's ``create_test_env`` stacks on top of ``VecNormalize``, as runs do). Only plain data is written
    (``yaml.safe_dump``): algorithm arguments of other types are left out.

    :param frame_stack: the student's ``VecFrameStack`` (on Atari, where the suite stacks 4 frames already,
        the Zoo's config cannot name a second stack: the caller refuses it)
    :param recurrent: the student is a ``RecurrentPPO`` (its policy is the suite's ``LstmPolicy``)
    """
    suite = envs.suite_of(env_id)
    policy = suite.policy.replace("Policy", "LstmPolicy") if recurrent else suite.policy
    hyperparams: dict[str, Any] = {"policy": policy, "n_envs": n_envs, "n_timesteps": steps}
    for name, value in algorithm_params.items():
        if name == "policy_kwargs":  # the Zoo's form: Python text it evaluates, e.g. dict(activation_fn=nn.Tanh, ...)
            text = _python_text(value) if value else None
            if text is not None:
                hyperparams[name] = text
        elif _is_plain(value):
            hyperparams[name] = _lists(value)
    if vec_normalize is None:
        hyperparams["normalize"] = False
    elif vec_normalize.norm_obs and vec_normalize.norm_reward:
        hyperparams["normalize"] = True
    else:
        hyperparams["normalize"] = f"dict(norm_obs={vec_normalize.norm_obs}, norm_reward={vec_normalize.norm_reward})"
    if suite.name == "atari":
        from sb3_distill.envs.atari import FRAME_STACK

        # as the run evaluates (sb3_distill.envs.atari.make_atari with training=False)
        hyperparams["env_wrapper"] = [
            {"stable_baselines3.common.atari_wrappers.AtariWrapper": {"terminal_on_life_loss": False, "clip_reward": False}}
        ]
        hyperparams["frame_stack"] = FRAME_STACK
    elif frame_stack > 1:
        hyperparams["frame_stack"] = frame_stack
    return dict(sorted(hyperparams.items()))


def zoo_args(env_id: str, layout: ZooLayout, seed: int, steps: int, n_envs: int, method: str) -> dict[str, Any]:
    """``<Env>/args.yml``: what the Zoo's tools read from it (``env``, ``env_kwargs``) and the run's basics."""
    return {
        "algo": layout.algo,
        "env": env_id,
        "env_kwargs": None,
        "log_folder": layout.log_folder,
        "n_envs": n_envs,
        "n_timesteps": steps,
        "seed": seed,
        "distillation_method": method,
    }


def write_zoo_files(
    run_dir: str,
    layout: ZooLayout,
    student_zip: str,
    vecnormalize_pkl: str | None,
    hyperparams: Mapping[str, Any],
    args: Mapping[str, Any],
    command: str | None = None,
) -> list[str]:
    """Write the Zoo's files of a finished run into ``run_dir``; return their paths.

    Every file is written under a temporary name and renamed, and ``<Env>.zip`` last, so that a folder whose
    ``<Env>.zip`` exists also has its statistics and config.
    """
    params_path = os.path.join(run_dir, layout.env_name)
    os.makedirs(params_path, exist_ok=True)
    written = []
    stats_path = os.path.join(params_path, "vecnormalize.pkl")
    if vecnormalize_pkl is not None:
        _copy_atomically(vecnormalize_pkl, stats_path)
        written.append(stats_path)
    elif os.path.exists(stats_path):
        os.remove(stats_path)  # with normalize: false, enjoy must not find statistics of another student
    texts = {"config.yml": _yaml(_lists(dict(hyperparams))), "args.yml": _yaml(_lists(dict(args)))}
    if command is not None:
        texts["command.txt"] = command
    for name, text in texts.items():
        path = os.path.join(params_path, name)
        with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as file:
            file.write(text)
        written.append(path)
    model_path = os.path.join(run_dir, f"{layout.env_name}.zip")
    _copy_atomically(student_zip, model_path)
    written.append(model_path)
    return written


def _copy_atomically(source: str, destination: str) -> None:
    with atomic_path(destination) as temporary:
        shutil.copyfile(source, temporary)


def _yaml(data: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(data), sort_keys=False, default_flow_style=False)


def _python_text(value: Any) -> str | None:
    """``value`` as the Python text the Zoo evaluates (with ``torch.nn`` as ``nn``), or ``None`` if it has none."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        items = [_python_text(item) for item in value]
        return None if None in items else "[" + ", ".join(str(item) for item in items) + "]"
    if isinstance(value, dict):
        if not all(isinstance(key, str) and key.isidentifier() for key in value):
            return None
        texts = {key: _python_text(item) for key, item in value.items()}
        if None in texts.values():
            return None
        return "dict(" + ", ".join(f"{key}={text}" for key, text in texts.items()) + ")"
    name = getattr(value, "__name__", None) if isinstance(value, type) else None
    if name is not None and getattr(nn, name, None) is value:
        return f"nn.{name}"  # an activation function or another torch.nn class
    return None


def _lists(value: Any) -> Any:
    """Plain data with tuples as lists (``yaml.safe_dump`` writes no tuples)."""
    if isinstance(value, (list, tuple)):
        return [_lists(item) for item in value]
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    return value


def _is_plain(value: Any) -> bool:
    """Plain data that ``yaml.safe_dump`` writes and the Zoo reads back as it was."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_plain(item) for key, item in value.items())
    return False
