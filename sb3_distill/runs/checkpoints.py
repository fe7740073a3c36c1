"""Checkpoints of a run: everything needed to continue it where it stopped.

A run folder keeps its checkpoints under ``checkpoints/``, one folder per save::

    checkpoints/step-000000051200/
        student.zip          the student (a plain SB3 zip) with its optimizer state and num_timesteps
                             (``teacher.zip`` in the checkpoints of a teacher's training)
        vecnormalize.pkl     the model's VecNormalize statistics, when it has them
        rng.json             the Python, NumPy and torch random states
        manifest.json        written last: the step, each file's size and SHA-256, the teacher source and
                             whatever the caller adds (the command's arguments, the teacher's score)

A checkpoint is built in a hidden temporary folder and renamed into place once complete, so a process
killed at any moment leaves either the new checkpoint or none, and the previous one untouched. Reading
checks every file against the manifest, so a checkpoint damaged later (a truncated copy, a full disk)
is skipped in favour of the one before it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import random
import shutil
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from sb3_distill.common.atomic_files import sync_file, sync_folder
from sb3_distill.common.training_guard import TrainingDiverged, non_finite_parameters

CHECKPOINTS = "checkpoints"
STUDENT = "student.zip"
#: The model file of a teacher's training checkpoints (``train-teacher``).
TEACHER = "teacher.zip"
VECNORMALIZE = "vecnormalize.pkl"
RNG = "rng.json"
MANIFEST = "manifest.json"
FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint could not be written, or no usable checkpoint was found."""


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint folder and its manifest."""

    folder: str
    manifest: dict[str, Any]

    @property
    def timesteps(self) -> int:
        return int(self.manifest["timesteps"])

    def path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    @property
    def has_vecnormalize(self) -> bool:
        return VECNORMALIZE in self.manifest["files"]


def checkpoint_folder(run_dir: str, timesteps: int) -> str:
    return os.path.join(run_dir, CHECKPOINTS, f"step-{timesteps:012d}")


def save_checkpoint(
    model: BaseAlgorithm, run_dir: str, info: dict[str, Any] | None = None, keep: int = 2, model_file: str = STUDENT
) -> Checkpoint:
    """Write a checkpoint of ``model`` at its ``num_timesteps`` into ``run_dir/checkpoints``, atomically.

    :param model: the student (or, with ``model_file=TEACHER``, the teacher being trained)
    :param run_dir: the run folder
    :param info: JSON-serialisable facts the manifest should carry (e.g. the command's arguments)
    :param keep: how many checkpoints to keep, newest first (at least 1); older ones are deleted
    :param model_file: the model's file name in the checkpoint: ``student.zip`` or ``teacher.zip``
    :raises TrainingDiverged: the model's weights hold a NaN or an infinity (nothing is written)
    :raises CheckpointError: the folder could not be written (the previous checkpoint is left as it was)
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1 checkpoint, got {keep}.")
    bad = non_finite_parameters(model.policy.named_parameters())
    if bad:
        raise TrainingDiverged(
            f"Not saving a checkpoint at {model.num_timesteps} timesteps: the {os.path.splitext(model_file)[0]}'s "
            f"weights {bad} hold NaN or "
            f"infinite values. {_previous(run_dir)}"
        )
    final = checkpoint_folder(run_dir, model.num_timesteps)
    existing = read_checkpoint(final) if os.path.isdir(final) else None
    if existing is not None:  # saved at this step already (a signal right after a periodic save): nothing trained since
        return existing
    parent = os.path.dirname(final)
    temporary = os.path.join(parent, f".{os.path.basename(final)}.tmp-{os.getpid()}")
    try:
        os.makedirs(parent, exist_ok=True)
        shutil.rmtree(temporary, ignore_errors=True)
        os.makedirs(temporary)
        model.save(os.path.join(temporary, model_file))
        vec_normalize = model.get_vec_normalize_env()
        if vec_normalize is not None:
            vec_normalize.save(os.path.join(temporary, VECNORMALIZE))
        with open(os.path.join(temporary, RNG), "w") as file:
            json.dump(_rng_state(), file)
        files = {}
        for name in sorted(os.listdir(temporary)):
            path = os.path.join(temporary, name)
            sync_file(path)
            files[name] = {"bytes": os.path.getsize(path), "sha256": _sha256(path)}
        manifest = {
            "format": FORMAT,
            "timesteps": int(model.num_timesteps),
            "algorithm": type(model).__name__,
            "teacher_source": getattr(model, "teacher_source", None),
            "files": files,
            **(info or {}),
        }
        with open(os.path.join(temporary, MANIFEST), "w") as file:
            json.dump(manifest, file, indent=2)
        sync_file(os.path.join(temporary, MANIFEST))
        if os.path.isdir(final):  # an earlier, damaged attempt at the same step
            shutil.rmtree(final)
        os.rename(temporary, final)
        sync_folder(parent)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise CheckpointError(
            f"Could not write the checkpoint of step {model.num_timesteps} to {final}: {error.strerror or error}. "
            f"{_previous(run_dir)} Free some space or choose another --out, then resume with --resume {run_dir}."
        ) from error
    checkpoint = Checkpoint(final, manifest)
    _prune(run_dir, keep, checkpoint)
    return checkpoint


def read_checkpoint(folder: str) -> Checkpoint | None:
    """The checkpoint in ``folder`` if it is complete and every file matches its manifest, else ``None``."""
    try:
        with open(os.path.join(folder, MANIFEST)) as file:
            manifest = json.load(file)
        if manifest.get("format") != FORMAT:
            return None
        for name, expected in manifest["files"].items():
            path = os.path.join(folder, name)
            if os.path.getsize(path) != expected["bytes"] or _sha256(path) != expected["sha256"]:
                return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Checkpoint(folder, manifest)


def checkpoints(run_dir: str) -> list[str]:
    """The checkpoint folders of ``run_dir``, oldest first (complete or not)."""
    return sorted(glob.glob(os.path.join(run_dir, CHECKPOINTS, "step-*")))


def last_good_checkpoint(run_dir: str, warn: bool = False) -> Checkpoint | None:
    """The newest usable checkpoint of ``run_dir``, or ``None``; damaged ones are skipped (with a warning if ``warn``)."""
    for folder in reversed(checkpoints(run_dir)):
        checkpoint = read_checkpoint(folder)
        if checkpoint is not None:
            return checkpoint
        if warn:
            warnings.warn(
                f"Skipping the damaged or incomplete checkpoint {folder}: a file is missing or does not match its manifest.",
                stacklevel=3,
            )
    return None


def latest_checkpoint(run_dir: str) -> Checkpoint:
    """The newest usable checkpoint of ``run_dir``; damaged ones are skipped with a warning.

    :raises CheckpointError: there is none
    """
    checkpoint = last_good_checkpoint(run_dir, warn=True)
    if checkpoint is not None:
        return checkpoint
    raise CheckpointError(
        f"No usable checkpoint in {os.path.join(os.path.abspath(run_dir), CHECKPOINTS)}; the run "
        "cannot be resumed. Start it again without --resume."
    )


def restore_vecnormalize(checkpoint: Checkpoint, venv: VecEnv, trust_pickle: bool = False) -> VecNormalize:
    """The ``VecNormalize`` of ``checkpoint``'s model around ``venv`` (running statistics and settings).

    Read through the allow-list unpickler (unless ``trust_pickle``): a checkpoint folder may come from someone else.
    """
    from sb3_distill.common.safe_loading import loads

    if isinstance(venv, VecNormalize):
        venv = venv.venv
    path = checkpoint.path(VECNORMALIZE)
    with open(path, "rb") as file:
        vec_normalize = loads(file.read(), path, "VecNormalize", trust_pickle)
    if not isinstance(vec_normalize, VecNormalize):
        raise CheckpointError(f"{path} holds a {type(vec_normalize).__name__}, not a VecNormalize.")
    vec_normalize.set_venv(venv)
    return vec_normalize


def restore_rng(checkpoint: Checkpoint) -> None:
    """Put the Python, NumPy and torch random generators back in their state at ``checkpoint``."""
    with open(checkpoint.path(RNG)) as file:
        state = json.load(file)
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
    th.set_rng_state(th.tensor(state["torch"], dtype=th.uint8))


def _rng_state() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    numpy_state = np.random.get_state()
    assert isinstance(numpy_state, tuple)  # the legacy form (the default), not a dict
    name, keys, position, has_gauss, cached = numpy_state
    return {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(position), int(has_gauss), float(cached)],
        "torch": th.get_rng_state().tolist(),
    }


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _prune(run_dir: str, keep: int, newest: Checkpoint) -> None:
    """Keep ``newest`` (just written, so not hashed again) and the ``keep - 1`` usable ones before it."""
    older = [folder for folder in checkpoints(run_dir) if folder < newest.folder]
    kept = 1
    for folder in reversed(older):
        if kept < keep and read_checkpoint(folder) is not None:
            kept += 1
        else:
            shutil.rmtree(folder, ignore_errors=True)
    for temporary in glob.glob(os.path.join(run_dir, CHECKPOINTS, ".step-*.tmp-*")):  # left by killed processes
        if not temporary.endswith(f".tmp-{os.getpid()}"):
            shutil.rmtree(temporary, ignore_errors=True)


def _previous(run_dir: str) -> str:
    checkpoint = last_good_checkpoint(run_dir)
    if checkpoint is None:
        return "There is no earlier checkpoint."
    return f"The last good checkpoint is {checkpoint.folder} ({checkpoint.timesteps} timesteps)."
