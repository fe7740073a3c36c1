"""Run one job of the grid into its folder. A finished job is marked by ``done.json``, written last and
atomically, so a grid that restarts skips it; a job that fails records ``error.json`` and the grid goes on.
A distillation run that was killed resumes from its latest checkpoint; any other unfinished job starts over.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import time
import traceback
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from sb3_distill.bench.plan import DistillJob, TeacherJob
from sb3_distill.common.atomic_files import write_json_atomically
from sb3_distill.envs import env_slug
from sb3_distill.runs import RunInterrupted, last_good_checkpoint

DONE = "done.json"
ERROR = "error.json"


def is_done(folder: str) -> bool:
    return os.path.exists(os.path.join(folder, DONE))


def run_job(job: TeacherJob | DistillJob) -> dict[str, Any]:
    """Run ``job`` unless it finished before; return its record (``status``: done, skipped or failed)."""
    if is_done(job.folder):
        with open(os.path.join(job.folder, DONE)) as file:
            return {**json.load(file), "status": "skipped"}
    resumable = isinstance(job, DistillJob) and _can_resume(job.folder)
    if os.path.exists(job.folder) and not resumable:  # the remains of an interrupted or failed attempt
        shutil.rmtree(job.folder)
    os.makedirs(job.folder, exist_ok=True)
    try:
        results = _run_teacher(job) if isinstance(job, TeacherJob) else _run_distill(job, resumable)
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
    """A killed run with a usable checkpoint (a run that failed is started over instead)."""
    return not os.path.exists(os.path.join(folder, ERROR)) and last_good_checkpoint(folder) is not None


def _cli(argv: list[str]):  # type: ignore[no-untyped-def]
    from sb3_distill.cli.main import build_parser  # the CLI imports the grid: import it late

    # argparse exits on a bad command line; in a pool worker that SystemExit would end the whole grid
    # instead of failing this job, so it becomes an error the job records.
    usage = io.StringIO()
    try:
        with contextlib.redirect_stderr(usage):
            args = build_parser().parse_args(argv)
    except SystemExit:
        refusal = usage.getvalue().strip().splitlines()[-1:] or ["no message"]
        raise ValueError(f"sb3-distill refused the command line the grid built ({refusal[0]}): {' '.join(argv)}") from None
    args.command_line = "sb3-distill " + " ".join(argv)
    return args


def _params(params: dict[str, Any]) -> list[str]:
    return [f"{key}={value!r}" for key, value in params.items()]


def _run_teacher(job: TeacherJob) -> dict[str, Any]:
    from sb3_distill.cli import corrupt, train_teacher

    env = job.env
    eval_episodes = str(env.eval_episodes)
    if job.variant.sigma > 0:
        source = _teacher_source(job.original_folder)
        argv = [
            "corrupt",
            "--teacher",
            source,
            "--sigma",
            str(job.variant.sigma),
            "--seed",
            str(job.seed),
            "--out",
            os.path.join(job.folder, f"{env_slug(env.env_id)}.zip"),
            "--env",
            env.env_id,
            "--eval-episodes",
            eval_episodes,
        ]
        corrupt.run(_cli(argv))
        return {"teacher": os.path.join(job.folder, f"{env_slug(env.env_id)}.zip")}
    if env.teacher != "train":
        return {"teacher": env.teacher}
    argv = [
        "train-teacher",
        "--env",
        env.env_id,
        "--steps",
        str(env.teacher_steps),
        "--out",
        job.folder,
        "--seed",
        str(job.seed),
        "--n-envs",
        str(env.n_envs),
        "--eval-episodes",
        eval_episodes,
        "--no-progress",
    ]
    if env.teacher_params:
        argv += ["--param", *_params(env.teacher_params)]
    config = train_teacher.run(_cli(argv))
    return {"teacher": os.path.join(job.folder, f"{env_slug(env.env_id)}.zip"), "teacher_eval": config["eval_mean_return"]}


def _teacher_source(folder: str) -> str:
    with open(os.path.join(folder, DONE)) as file:
        return json.load(file)["teacher"]


def _measured_teacher_score(job: DistillJob) -> str | None:
    """``MEAN,STD`` of a teacher the grid trained, when train-teacher evaluated it as this run would.

    train-teacher evaluates on seed + 10,000 in the suite's mode, like every run of that teacher's seed;
    with the spec's episodes too, the run takes this score instead of evaluating the teacher again.
    """
    if job.variant.sigma > 0:
        return None
    try:
        with open(os.path.join(job.teacher_folder, "config.json")) as file:
            config = json.load(file)
    except FileNotFoundError:  # a teacher given as a source
        return None
    if config.get("seed") != job.seed or config.get("eval_episodes") != job.env.eval_episodes:
        return None
    return f"{config['eval_mean_return']!r},{config['eval_std_return']!r}"


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


def _run_distill(job: DistillJob, resume: bool) -> dict[str, Any]:
    from sb3_distill.cli import distill

    env = job.env
    teacher = _teacher_source(job.teacher_folder)
    method = "ppd" if job.method == "ppo" else job.method
    argv = [
        "distill",
        "--teacher",
        teacher,
        "--env",
        env.env_id,
        "--method",
        method,
        "--student",
        job.student,
        "--steps",
        str(env.distill_steps),
        "--seed",
        str(job.seed),
        "--out",
        job.folder,
        "--n-envs",
        str(env.n_envs),
        "--eval-episodes",
        str(env.eval_episodes),
        "--no-progress",
        "--eval-every",
        str(max(env.distill_steps // env.curve_points, 1)),
        "--eval-every-episodes",
        str(env.curve_episodes),
    ]
    measured = _measured_teacher_score(job)
    if measured is not None:
        argv.append(f"--teacher-score={measured}")  # one token: argparse takes "-83.0,8.8" for an option
    if job.method == "ppo":
        argv += ["--lambda", "0"]  # PPD with λ = 0 is PPO exactly (tested): the no-teacher baseline
    elif job.distill_lambda is not None:
        argv += ["--lambda", job.distill_lambda]
    if job.preset is not None:
        argv += ["--preset", job.preset]
    if job.params():
        argv += ["--param", *_params(job.params())]
    if resume:
        argv = ["distill", "--resume", job.folder, "--no-progress"]
    clock = TrainingClock()
    results = distill.run(_cli(argv), callback=clock)
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
        "env": env.env_id,
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
