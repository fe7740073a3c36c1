"""Periodic checkpoints during ``learn``, and a clean stop on SIGINT or SIGTERM."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from sb3_distill.runs.checkpoints import STUDENT, Checkpoint, save_checkpoint


class RunInterrupted(Exception):
    """The run stopped on a signal after saving a checkpoint; ``exit_code`` is the shell's 128 + signal."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum


class Checkpointing(BaseCallback):
    """Save a checkpoint every ``every`` timesteps, and stop the run when a stop signal arrives.

    Checkpoints are taken at the start of a rollout, right after an update, so they hold everything
    learned so far and nothing half-collected. A stop request (:func:`stop_on_signals`) ends ``learn``
    at the next environment step; the caller then saves with :meth:`save` (the partial rollout is dropped).

    :param run_dir: the run folder (checkpoints go to ``run_dir/checkpoints``)
    :param every: timesteps between checkpoints (0: only when asked with :meth:`save`)
    :param info: JSON-serialisable facts for each manifest, e.g. how to rebuild the run
    :param keep: how many checkpoints to keep
    :param model_file: the model's file name in each checkpoint: ``student.zip`` (a distillation run, whose
        manifests also record its teacher) or ``teacher.zip`` (a teacher's training, any SB3 algorithm)
    """

    def __init__(self, run_dir: str, every: int, info: dict[str, Any] | None = None, keep: int = 2, model_file: str = STUDENT):
        super().__init__()
        if every < 0:
            raise ValueError(f"Checkpoints every {every} timesteps: expected 0 (off) or a positive number.")
        self.run_dir = run_dir
        self.every = every
        self.info = info or {}
        self.keep = keep
        self.model_file = model_file
        self.stop_signal: int | None = None
        self.latest: Checkpoint | None = None
        #: ``num_timesteps`` when the latest rollout began: the steps that the weights have learned from
        self.rollout_start = 0
        self._last_saved = 0

    def _on_training_start(self) -> None:
        self._last_saved = self.num_timesteps  # a resumed run counts from its checkpoint
        self.rollout_start = self.num_timesteps

    def _on_rollout_start(self) -> None:
        self.rollout_start = self.num_timesteps
        if self.every and self.num_timesteps - self._last_saved >= self.every:
            self.save()

    def _on_step(self) -> bool:
        return self.stop_signal is None

    def save(self) -> Checkpoint:
        from sb3_distill.common.distillation_algorithm import DistillationAlgorithm
        from sb3_distill.runs.resume import teacher_settings

        info = self.info
        if isinstance(self.model, DistillationAlgorithm):  # a student: the manifest records how to load its teacher
            info = {**self.info, "teacher": teacher_settings(self.model, **self.info.get("teacher", {}))}
        else:
            assert self.model_file != STUDENT, "Checkpointing saves a distillation run's student, or a model_file of its own"
        self.latest = save_checkpoint(self.model, self.run_dir, info, self.keep, self.model_file)
        self._last_saved = self.num_timesteps
        return self.latest


@contextmanager
def stop_on_signals(checkpointing: Checkpointing) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM ask ``checkpointing`` to stop the run instead of killing it.

    A second signal of the same kind acts as it normally would (Ctrl-C twice interrupts at once).
    Signal handlers can only be set from the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}

    def request_stop(signum: int, _frame: Any) -> None:
        checkpointing.stop_signal = signum
        signal.signal(signum, previous[signum])

    for stop in (signal.SIGINT, signal.SIGTERM):
        previous[stop] = signal.signal(stop, request_stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
