"""Runs that survive: checkpoints with their normalisation, resuming, periodic evaluation, stop on a signal.

Library use::

    from sb3_distill.runs import Checkpointing, resume

    student = PPD("MlpPolicy", env, ...)
    student.set_teacher(teacher_path, distill_lambda=1.0)
    student.learn(1_000_000, callback=Checkpointing("runs/my-run", every=100_000))

    # later, in a new process: the same teacher (from the manifest), statistics, optimizer and RNG states
    student = resume("runs/my-run", env)
    student.learn(1_000_000 - student.num_timesteps, reset_num_timesteps=False,
                  callback=Checkpointing("runs/my-run", every=100_000))
"""

from sb3_distill.runs.checkpointing import Checkpointing, RunInterrupted, stop_on_signals
from sb3_distill.runs.checkpoints import (
    Checkpoint,
    CheckpointError,
    last_good_checkpoint,
    latest_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from sb3_distill.runs.periodic_evaluation import PeriodicEvaluation
from sb3_distill.runs.resume import resume

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "Checkpointing",
    "PeriodicEvaluation",
    "RunInterrupted",
    "last_good_checkpoint",
    "latest_checkpoint",
    "read_checkpoint",
    "resume",
    "save_checkpoint",
    "stop_on_signals",
]
