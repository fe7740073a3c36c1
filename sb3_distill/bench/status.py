"""Where a grid stands, read from its results folder without running anything: which jobs finished, which failed,
which started (running now, or stopped: a restarted grid resumes them from their newest checkpoint), and which
have not started."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass

from sb3_distill.bench.plan import DistillJob, TeacherJob, plan
from sb3_distill.bench.runner import ERROR, read_done
from sb3_distill.bench.spec import load_spec
from sb3_distill.common.atomic_files import DamagedRecord, read_json_record
from sb3_distill.runs.checkpoints import last_good_checkpoint

#: The states of a job, in the order a summary names them.
STATES = ("done", "failed", "started", "pending")


@dataclass(frozen=True)
class JobStatus:
    """A job of the grid: its key (its folder under the results folder), its state (one of :data:`STATES`) and,
    for a failed or started job, what it left: its error, or the step of its newest usable checkpoint."""

    key: str
    state: str
    detail: str = ""


def grid_status(spec_path: str, out: str) -> list[JobStatus]:
    """The state of every job of the spec at ``spec_path`` in the results folder ``out``, teachers first.

    :param spec_path: the grid's YAML spec
    :param out: its results folder (it need not exist: then every job is pending)
    """
    jobs = plan(load_spec(spec_path), out)
    return [_status(job) for job in jobs.teachers] + [_status(job) for job in jobs.runs]


def summary(statuses: list[JobStatus]) -> str:
    """``12 done, 1 failed, 2 started, 24 pending (of 39 jobs)``: the states that occur, in :data:`STATES` order."""
    counts = Counter(status.state for status in statuses)
    parts = [f"{counts[state]} {state}" for state in STATES if counts[state]]
    return f"{', '.join(parts) or 'nothing'} (of {len(statuses)} jobs)"


def _status(job: TeacherJob | DistillJob) -> JobStatus:
    if read_done(job.folder) is not None:
        return JobStatus(job.key, "done")
    error = os.path.join(job.folder, ERROR)
    if os.path.exists(error):
        try:
            detail = str(read_json_record(error).get("error", "no message recorded"))
        except DamagedRecord as damaged:
            detail = str(damaged)
        return JobStatus(job.key, "failed", detail)
    checkpoint = last_good_checkpoint(job.folder)
    if checkpoint is not None:
        total = job.env.distill_steps if isinstance(job, DistillJob) else job.env.teacher_steps
        return JobStatus(job.key, "started", f"newest checkpoint at step {checkpoint.timesteps:,} of {total:,}")
    if os.path.isdir(job.folder):
        return JobStatus(job.key, "started", "no checkpoint yet (restarted, it starts over)")
    return JobStatus(job.key, "pending")
