"""Run one job of the grid into its folder. A finished job is marked by ``done.json``, written last and
atomically, so a grid that restarts skips it; a job that fails records ``error.json`` and the grid goes on.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
import traceback
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from sb3_distill.bench.plan import DistillJob, TeacherJob
from sb3_distill.envs import env_slug

DONE = "done.json"
ERROR = "error.json"
CURVE = "curve.csv"


def is_done(folder: str) -> bool:
    return os.path.exists(os.path.join(folder, DONE))


def write_json_atomically(path: str, data: dict[str, Any]) -> None:
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w") as file:
        json.dump(data, file, indent=2)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def run_job(job: TeacherJob | DistillJob) -> dict[str, Any]:
    """Run ``job`` unless it finished before; return its record (``status``: done, skipped or failed)."""
    if is_done(job.folder):
        with open(os.path.join(job.folder, DONE)) as file:
            return {**json.load(file), "status": "skipped"}
    if os.path.exists(job.folder):  # the remains of an interrupted attempt
        shutil.rmtree(job.folder)
    os.makedirs(job.folder)
    try:
        results = _run_teacher(job) if isinstance(job, TeacherJob) else _run_distill(job)
    except Exception as error:  # recorded, and the grid goes on
        record = {"key": job.key, "status": "failed", "error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        write_json_atomically(os.path.join(job.folder, ERROR), record)
        return record
    record = {"key": job.key, "status": "done", **results}
    write_json_atomically(os.path.join(job.folder, DONE), record)
    return record


def _cli(argv: list[str]):  # type: ignore[no-untyped-def]
    from sb3_distill.cli.main import build_parser  # the CLI imports the grid: import it late

    args = build_parser().parse_args(argv)
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
        argv = ["corrupt", "--teacher", source, "--sigma", str(job.variant.sigma), "--seed", str(job.seed),
                "--out", os.path.join(job.folder, f"{env_slug(env.env_id)}.zip"), "--env", env.env_id, "--eval-episodes", eval_episodes]
        corrupt.run(_cli(argv))
        return {"teacher": os.path.join(job.folder, f"{env_slug(env.env_id)}.zip")}
    if env.teacher != "train":
        return {"teacher": env.teacher}
    argv = ["train-teacher", "--env", env.env_id, "--steps", str(env.teacher_steps), "--out", job.folder,
            "--seed", str(job.seed), "--n-envs", str(env.n_envs), "--eval-episodes", eval_episodes, "--no-progress"]
    if env.teacher_params:
        argv += ["--param", *_params(env.teacher_params)]
    config = train_teacher.run(_cli(argv))
    return {"teacher": os.path.join(job.folder, f"{env_slug(env.env_id)}.zip"), "teacher_eval": config["eval_mean_return"]}


def _teacher_source(folder: str) -> str:
    with open(os.path.join(folder, DONE)) as file:
        return json.load(file)["teacher"]


class LearningCurve(BaseCallback):
    """The mean return of the student's recent training episodes after every rollout, into ``curve.csv``;
    also the wall time of training alone (``training_seconds``), for throughput."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.rows: list[tuple[int, float]] = []
        self.training_seconds = float("nan")
        self._start = 0.0

    def _on_training_start(self) -> None:
        self._start = time.perf_counter()

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        episodes = self.model.ep_info_buffer
        if episodes:
            self.rows.append((self.num_timesteps, sum(info["r"] for info in episodes) / len(episodes)))

    def _on_training_end(self) -> None:
        self.training_seconds = time.perf_counter() - self._start
        with open(self.path, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["timesteps", "mean_return"])
            writer.writerows(self.rows)


def _run_distill(job: DistillJob) -> dict[str, Any]:
    from sb3_distill.cli import distill

    env = job.env
    teacher = _teacher_source(job.teacher_folder)
    method = "ppd" if job.method == "ppo" else job.method
    argv = ["distill", "--teacher", teacher, "--env", env.env_id, "--method", method, "--student", job.student,
            "--steps", str(env.distill_steps), "--seed", str(job.seed), "--out", job.folder, "--n-envs", str(env.n_envs),
            "--eval-episodes", str(env.eval_episodes), "--no-progress"]
    if job.method == "ppo":
        argv += ["--lambda", "0"]  # PPD with λ = 0 is PPO exactly (tested): the no-teacher baseline
    if job.params():
        argv += ["--param", *_params(job.params())]
    curve = LearningCurve(os.path.join(job.folder, CURVE))
    results = distill.run(_cli(argv), callback=curve)
    kept = ("teacher_mean_return", "student_mean_return", "student_policy_parameters", "teacher_policy_parameters",
            "steps", "eval_episodes")
    return {"env": env.env_id, "method": job.method, "student": job.student, "seed": job.seed,
            "variant": job.variant.name, **{key: results[key] for key in kept},
            "training_seconds": curve.training_seconds, "steps_per_second": results["steps"] / curve.training_seconds}
