"""Evaluation during training on a separate environment, and the best student kept with its statistics."""

from __future__ import annotations

import csv
import io
import json
import os
import time

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

from sb3_distill.common.atomic_files import atomic_path, write_json_atomically
from sb3_distill.evaluation import score

EVALUATIONS = "evaluations.csv"
BEST_MODEL = "best_model.zip"
BEST_VECNORMALIZE = "best_model_vecnormalize.pkl"
BEST_INFO = "best_model.json"
COLUMNS = ("timesteps", "mean_return", "std_return", "episodes")


class PeriodicEvaluation(BaseCallback):
    """Every ``every`` timesteps, evaluate the student on ``eval_env`` and keep the best one, as the RL Zoo does.

    The evaluation sees observations normalised with a frozen copy of the student's current statistics
    and reports raw returns. Each evaluation goes to TensorBoard (``eval/mean_reward``) and to
    ``evaluations.csv``; a new best writes ``best_model.zip``, ``best_model_vecnormalize.pkl`` (when the
    student normalises observations or rewards) and ``best_model.json`` naming its timestep and return.
    Every file is replaced atomically. A resumed run drops the evaluations made after its checkpoint.

    :param eval_env: the evaluation environment, raw (one environment is enough)
    :param run_dir: where the files go
    :param every: timesteps between evaluations
    :param episodes: episodes per evaluation
    :param deterministic: evaluate the most probable action
    """

    def __init__(self, eval_env: VecEnv, run_dir: str, every: int, episodes: int, deterministic: bool = True):
        super().__init__()
        if every <= 0 or episodes <= 0:
            raise ValueError(f"Evaluation every {every} timesteps over {episodes} episodes: both must be positive.")
        self.eval_env = eval_env
        self.run_dir = run_dir
        self.every = every
        self.episodes = episodes
        self.deterministic = deterministic
        self.rows: list[dict[str, float]] = []
        self.best_mean = -float("inf")
        self.seconds = 0.0  # spent evaluating, so that throughput can leave it out

    def _on_training_start(self) -> None:
        self.rows = [row for row in self._read_rows() if row["timesteps"] <= self.num_timesteps]
        self.best_mean = max((row["mean_return"] for row in self.rows), default=-float("inf"))

    def _on_step(self) -> bool:
        done = self.rows[-1]["timesteps"] // self.every if self.rows else 0
        if self.num_timesteps // self.every > done:
            self.evaluate()
        return True

    def evaluate(self) -> float:
        """Evaluate now (also callable after ``learn``, e.g. to end the curve where training ended)."""
        from sb3_distill.envs import frozen_copy

        start = time.perf_counter()
        env = frozen_copy(self.eval_env, self.model.get_vec_normalize_env() or self.training_env)
        result = score(self.model, env, self.episodes, self.deterministic)
        mean, std = result.mean, result.std
        self.rows.append(
            {"timesteps": self.model.num_timesteps, "mean_return": mean, "std_return": std, "episodes": self.episodes}
        )
        self._write_rows()
        self.logger.record("eval/mean_reward", mean)
        self.logger.record("eval/std_reward", std)
        if mean > self.best_mean:
            self.best_mean = mean
            self._save_best(mean)
        self.logger.dump(self.model.num_timesteps)
        self.seconds += time.perf_counter() - start
        return mean

    def _save_best(self, mean: float) -> None:
        vec_normalize = self.model.get_vec_normalize_env()
        if vec_normalize is not None:
            with atomic_path(os.path.join(self.run_dir, BEST_VECNORMALIZE)) as temporary:
                vec_normalize.save(temporary)
        with atomic_path(os.path.join(self.run_dir, BEST_MODEL)) as temporary:
            self.model.save(temporary)
        write_json_atomically(
            os.path.join(self.run_dir, BEST_INFO),
            {
                "timesteps": self.model.num_timesteps,
                "mean_return": mean,
                "episodes": self.episodes,
                "vecnormalize": BEST_VECNORMALIZE if vec_normalize is not None else None,
            },
        )

    def _read_rows(self) -> list[dict[str, float]]:
        try:
            with open(os.path.join(self.run_dir, EVALUATIONS), newline="") as file:
                return [
                    {key: (int if key in ("timesteps", "episodes") else float)(float(row[key])) for key in COLUMNS}
                    for row in csv.DictReader(file)
                ]
        except FileNotFoundError:
            return []

    def _write_rows(self) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(self.rows)
        with atomic_path(os.path.join(self.run_dir, EVALUATIONS)) as temporary, open(temporary, "w", newline="") as file:
            file.write(text.getvalue())


def read_best(run_dir: str) -> dict | None:
    """``best_model.json`` of ``run_dir``, or ``None`` before the first evaluation."""
    try:
        with open(os.path.join(run_dir, BEST_INFO)) as file:
            return json.load(file)
    except FileNotFoundError:
        return None
