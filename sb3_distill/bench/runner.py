"""Run one job of the grid into its folder. A finished job is marked by ``done.json``, written last and
atomically, so a grid that restarts skips it; a job that fails records ``error.json`` and the grid goes on.
A distillation run or a teacher's training that was killed resumes from its latest checkpoint; any other
unfinished job (a corruption, a teacher killed before its first checkpoint) starts over.
A ``done.json`` that cannot be read (damaged after the fact: it is written atomically) marks no finished
job: a warning names it, and the job runs again from the start.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
import traceback
import warnings
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from sb3_distill.bench.plan import DistillJob, TeacherJob
from sb3_distill.common.atomic_files import DamagedRecord, read_json_record, write_json_atomically
from sb3_distill.envs import env_slug
from sb3_distill.experiment import (
    CorruptionConfig,
    DistillConfig,
    TeacherConfig,
    corrupt,
    distill,
    resume,
    resume_teacher,
    train_teacher,
)
from sb3_distill.runs import RunInterrupted, last_good_checkpoint

DONE = "done.json"
ERROR = "error.json"


def is_done(folder: str) -> bool:
    """Whether the job of ``folder`` finished: its ``done.json`` is there and readable (see :func:`read_done`)."""
    return read_done(folder) is not None


def read_done(folder: str) -> dict[str, Any] | None:
    """The record in ``folder``'s ``done.json``; ``None`` when there is none, or when it is damaged (a
    warning names the file: the job counts as not finished)."""
    try:
        return read_json_record(os.path.join(folder, DONE))
    except FileNotFoundError:
        return None
    except DamagedRecord as damaged:
        warnings.warn(f"{damaged} The job is not counted as finished and runs again.", stacklevel=2)
        return None


def run_job(job: TeacherJob | DistillJob) -> dict[str, Any]:
    """Run ``job`` unless it finished before; return its record (``status``: done, skipped or failed)."""
    done = read_done(job.folder)
    if done is not None:
        return {**done, "status": "skipped"}
    damaged = os.path.exists(os.path.join(job.folder, DONE))  # read_done warned; a resume would not run it again
    checkpointed = isinstance(job, DistillJob) or _trains_teacher(job)  # the jobs that write checkpoints
    resumable = checkpointed and not damaged and _can_resume(job.folder)
    if os.path.exists(job.folder) and not resumable:  # the remains of an interrupted or failed attempt
        shutil.rmtree(job.folder)
    os.makedirs(job.folder, exist_ok=True)
    try:
        results = _run_teacher(job, resumable) if isinstance(job, TeacherJob) else _run_distill(job, resumable)
    except RunInterrupted as stop:  # a checkpoint is saved: not a failure, and a restart resumes the run
        # Die of the signal, as without a handler: a pool worker must not go on to its next job.
        signal.signal(stop.signum, signal.SIG_DFL)
        os.kill(os.getpid(), stop.signum)
        raise
    except Exception as error:  # recorded, and the grid goes on
        record = {
            "key": job.key,
            "status": "failed",
            "error": f"{type(error).__name__}: {error}",
            "traceback": traceback.format_exc(),
        }
        write_json_atomically(os.path.join(job.folder, ERROR), record)
        return record
    record = {"key": job.key, "status": "done", **results}
    write_json_atomically(os.path.join(job.folder, DONE), record)
    return record


def _can_resume(folder: str) -> bool:
    """A killed run or teacher training with a usable checkpoint (one that failed is started over instead)."""
    return not os.path.exists(os.path.join(folder, ERROR)) and last_good_checkpoint(folder) is not None


def _trains_teacher(job: TeacherJob) -> bool:
    """Whether ``job`` trains its teacher (rather than corrupting one or taking a given source)."""
    return job.variant.sigma == 0 and job.env.teacher == "train"


def _run_teacher(job: TeacherJob, resumable: bool = False) -> dict[str, Any]:
    env = job.env
    if job.variant.sigma > 0:
        out = os.path.join(job.folder, f"{env_slug(env.env_id)}.zip")
        calibrated = job.variant.target_fraction is not None
        config = CorruptionConfig(
            teacher=_teacher_source(job.original_folder),
            sigma=None if calibrated else job.variant.sigma,  # calibrated: searched for the target fraction
            target_fraction=job.variant.target_fraction,
            seed=job.seed,
            env=env.env_id,
            eval_episodes=env.eval_episodes,
        )
        record = corrupt(config, out).record
        found = {key: record[key] for key in ("sigma", "target_fraction", "fraction")} if calibrated else {}
        return {"teacher": out, **found}
    if env.teacher != "train":
        return {"teacher": env.teacher}
    if resumable:  # killed after a checkpoint: go on from it, with the settings it was started with
        teacher = resume_teacher(job.folder)
        return {"teacher": teacher.path, "teacher_eval": teacher.score.mean}
    teacher = train_teacher(
        TeacherConfig(
            env=env.env_id,
            steps=env.teacher_steps,
            seed=job.seed,
            n_envs=env.n_envs,
            params=env.teacher_params,
            eval_episodes=env.eval_episodes,
        ),
        job.folder,
    )
    return {"teacher": teacher.path, "teacher_eval": teacher.score.mean}


def _teacher_source(folder: str) -> str:
    return str(read_json_record(os.path.join(folder, DONE), required=("teacher",))["teacher"])


def _measured_teacher_score(job: DistillJob) -> tuple[float, float] | None:
    """``(mean, std)`` of a teacher the grid trained, when train-teacher evaluated it as this run would.

    train-teacher evaluates on seed + 10,000 in the suite's mode, like every run of that teacher's seed;
    with the spec's episodes too, the run takes this score instead of evaluating the teacher again.
    """
    if job.variant.sigma > 0:
        return None
    try:
        config = read_json_record(
            os.path.join(job.teacher_folder, "config.json"), required=("eval_mean_return", "eval_std_return")
        )
    except FileNotFoundError:  # a teacher given as a source
        return None
    if config.get("seed") != job.seed or config.get("eval_episodes") != job.env.eval_episodes:
        return None
    return config["eval_mean_return"], config["eval_std_return"]


def distill_config(job: DistillJob) -> DistillConfig:
    """The config of a grid's distillation run: the spec's settings for its environment, method and sweep point."""
    env = job.env
    return DistillConfig(
        teacher=_teacher_source(job.teacher_folder),
        env=env.env_id,
        method=job.method,
        student=job.student,
        steps=env.distill_steps,
        seed=job.seed,
        n_envs=env.n_envs,
        eval_episodes=env.eval_episodes,
        eval_every=max(env.distill_steps // env.curve_points, 1),
        eval_every_episodes=env.curve_episodes,
        teacher_score=_measured_teacher_score(job),
        student_observation=env.student_observation,
        teacher_frame_stack=env.teacher_frame_stack,
        **job.settings(),
    )


class TrainingClock(BaseCallback):
    """The wall time of ``learn`` (``seconds``) and the timesteps it started from, for throughput."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds = float("nan")
        self.start_timesteps = 0
        self._start = 0.0

    def _on_training_start(self) -> None:
        self._start = time.perf_counter()
        self.start_timesteps = self.model.num_timesteps

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        self.seconds = time.perf_counter() - self._start


def _run_distill(job: DistillJob, resumable: bool) -> dict[str, Any]:
    clock = TrainingClock()
    if resumable:
        result = resume(job.folder, callbacks=[clock], verbose=0)
    else:
        result = distill(distill_config(job), job.folder, callbacks=[clock], verbose=0)
    results = result.record
    training_seconds = clock.seconds - results["periodic_evaluation_seconds"]
    trained = results["timesteps"] - clock.start_timesteps  # after a resume: this process's share
    kept = (
        "teacher_mean_return",
        "student_mean_return",
        "student_policy_parameters",
        "teacher_policy_parameters",
        "steps",
        "eval_episodes",
    )
    return {
        "env": job.env.env_id,
        "method": job.label,
        "setting": dict(job.setting),
        "student": job.student,
        "seed": job.seed,
        "variant": job.variant.name,
        **{key: results[key] for key in kept},
        "training_seconds": training_seconds,
        "steps_per_second": trained / training_seconds,
        "resumed": results["resumed"],
    }
