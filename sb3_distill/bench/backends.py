"""Where the grid's jobs run: a local process pool, or a Ray cluster. Both write the same folders.

Teachers run first (corrupted copies after the originals they are made from), then the distillation
runs; within a phase jobs run in parallel. A job's record comes back to the caller, which prints it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from sb3_distill.bench.plan import DistillJob, Plan, TeacherJob
from sb3_distill.bench.runner import run_job

Job = TeacherJob | DistillJob
Report = Callable[[dict[str, Any]], None]


def _phases(plan: Plan) -> list[Sequence[Job]]:
    originals = [job for job in plan.teachers if job.variant.sigma == 0]
    corrupted = [job for job in plan.teachers if job.variant.sigma > 0]
    return [originals, corrupted, list(plan.runs)]


def _share_cores(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_local(plan: Plan, workers: int, report: Report) -> list[dict[str, Any]]:
    """Run the plan in a pool of ``workers`` processes (1: in this process), sharing the cores among them."""
    # each worker's torch would otherwise take every core: 2 workers on 2 cores then ran 6x slower
    threads = max(1, (os.cpu_count() or 1) // workers)
    records: list[dict[str, Any]] = []
    for phase in _phases(plan):
        if workers <= 1:
            for job in phase:
                records.append(run_job(job))
                report(records[-1])
            continue
        # spawn: workers must not inherit torch's threads or an open Ray connection
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_share_cores, initargs=(threads,)
        ) as pool:
            for future in as_completed([pool.submit(run_job, job) for job in phase]):
                records.append(future.result())
                report(records[-1])
    return records


def run_ray(plan: Plan, address: str | None, report: Report) -> list[dict[str, Any]]:
    """Run the plan as Ray tasks on the cluster at ``address`` (``None``: start a local one)."""
    try:
        import ray
    except ImportError as error:
        raise ImportError("--backend ray needs Ray: pip install 'sb3-distill[ray]'.") from error
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    remote_run = ray.remote(num_cpus=1)(run_job)
    records: list[dict[str, Any]] = []
    try:
        for phase in _phases(plan):
            pending = [remote_run.remote(job) for job in phase]
            while pending:
                finished, pending = ray.wait(pending, num_returns=1)
                records.append(ray.get(finished[0]))
                report(records[-1])
    finally:
        if started_here:
            ray.shutdown()
    return records


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts = {"done": 0, "skipped": 0, "failed": 0}
    for record in records:
        counts[record["status"]] += 1
    return counts
