"""Evaluation during training on a separate environment, and the best student kept with its statistics."""

from __future__ import annotations

import csv
import io
import math
import os
import time
import warnings
from collections.abc import Sequence

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

from sb3_distill.common.atomic_files import DamagedRecord, atomic_path, read_json_record, write_json_atomically
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
    Every file is replaced atomically. A resumed run drops the evaluations made after its checkpoint. It
    refuses an ``evaluations.csv`` damaged in its middle (naming the file and line); a damaged last row
    (a write cut short, though this class writes whole files) is dropped with a warning, and the file is
    rewritten without it at the next evaluation.

    :param eval_env: the evaluation environment, raw (one environment is enough)
    :param run_dir: where the files go
    :param every: timesteps between evaluations
    :param episodes: episodes per evaluation
    :param deterministic: evaluate the most probable action
    :param frame_stack: the student reads its last N observations (stacked on top of the frozen statistics)
    """

    def __init__(
        self, eval_env: VecEnv, run_dir: str, every: int, episodes: int, deterministic: bool = True, frame_stack: int = 1
    ):
        super().__init__()
        if every <= 0 or episodes <= 0:
            raise ValueError(f"Evaluation every {every} timesteps over {episodes} episodes: both must be positive.")
        self.eval_env = eval_env
        self.run_dir = run_dir
        self.every = every
        self.episodes = episodes
        self.deterministic = deterministic
        self.frame_stack = frame_stack
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
        from sb3_distill.envs import frozen_copy, with_frame_stack

        start = time.perf_counter()
        env = with_frame_stack(
            frozen_copy(self.eval_env, self.model.get_vec_normalize_env() or self.training_env), self.frame_stack
        )
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
            return read_evaluation_rows(os.path.join(self.run_dir, EVALUATIONS), drop_cut_last_row=True)
        except FileNotFoundError:
            return []

    def _write_rows(self) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(self.rows)
        with atomic_path(os.path.join(self.run_dir, EVALUATIONS)) as temporary, open(temporary, "w", newline="") as file:
            file.write(text.getvalue())


#: Columns whose values are counts.
_INTEGER_COLUMNS = ("timesteps", "episodes")


def read_evaluation_rows(
    path: str, columns: Sequence[str] = COLUMNS, drop_cut_last_row: bool = False
) -> list[dict[str, float]]:
    """The rows of an ``evaluations.csv``: ``columns`` of each, as numbers (counts as integers).

    Rows are written whole, so each must end with a line end and hold one finite number per column of
    the header; timesteps and episode counts must be whole numbers >= 0.

    :param path: the file
    :param columns: the columns the caller needs; the header must name each of them
    :param drop_cut_last_row: drop a damaged last row with a warning instead of refusing the file
    :raises FileNotFoundError: there is no such file
    :raises DamagedRecord: a row is damaged (the message names the file and the line), or the header lacks a column
    """
    try:
        with open(path, newline="", encoding="utf-8") as file:
            text = file.read()
    except UnicodeDecodeError as error:
        raise DamagedRecord(f"{path} is damaged: not UTF-8 text ({error.reason} at byte {error.start}).") from None
    reader = csv.reader(io.StringIO(text))
    lines: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            if row:  # a blank line carries nothing
                lines.append((reader.line_num, row))
    except csv.Error as error:
        raise DamagedRecord(f"{path}, line {reader.line_num}: damaged: {error}.") from None
    if not lines:
        raise DamagedRecord(f"{path} is damaged: it is empty (a header line was expected).")
    (header_line, header), *body = lines
    missing = [column for column in columns if column not in header]
    if missing:
        raise DamagedRecord(f"{path}, line {header_line}: the header {header} lacks {', '.join(map(repr, missing))}.")
    cut_end = not text.endswith(("\n", "\r"))  # the writer ends every row with a line end
    rows = []
    for index, (line, row) in enumerate(body):
        last = index == len(body) - 1
        try:
            rows.append(_evaluation_row(row, header, columns, cut=last and cut_end))
        except ValueError as problem:
            message = f"{path}, line {line}: damaged row {','.join(row)!r}: {problem}"
            if last and drop_cut_last_row:
                warnings.warn(f"{message}; the row is dropped.", stacklevel=2)
                break
            raise DamagedRecord(f"{message}.") from None
    return rows


def _evaluation_row(row: list[str], header: list[str], columns: Sequence[str], cut: bool) -> dict[str, float]:
    if cut:
        raise ValueError("it has no line end (a write cut short)")
    if len(row) != len(header):
        raise ValueError(f"{len(row)} values where the header has {len(header)}")
    values: dict[str, float] = {}
    for column in columns:
        text = row[header.index(column)]
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{column} is {text!r}, not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{column} is {text!r}, not a finite number")
        if column in _INTEGER_COLUMNS:
            if value < 0 or not value.is_integer():
                raise ValueError(f"{column} is {text!r}, not a whole number >= 0")
            values[column] = int(value)
        else:
            values[column] = value
    return values


def read_best(run_dir: str) -> dict | None:
    """``best_model.json`` of ``run_dir``, or ``None`` before the first evaluation.

    :raises DamagedRecord: the file is damaged (named in the message)
    """
    try:
        return read_json_record(os.path.join(run_dir, BEST_INFO))
    except FileNotFoundError:
        return None
