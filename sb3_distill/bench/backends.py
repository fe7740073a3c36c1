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


#: How often Ray runs a job again when the node or worker running it dies. A job that comes back resumes
#: from its latest checkpoint (:func:`sb3_distill.bench.runner.run_job`), so a retry costs only the steps
#: since then. Exceptions raised by the job itself are not retried: run_job records them as failed.
NODE_FAILURE_RETRIES = 3


def run_ray(plan: Plan, address: str | None, report: Report) -> list[dict[str, Any]]:
    """Run the plan as Ray tasks on the cluster at ``address`` (``None``: start a local one).

    A job whose node dies is run again on a node that is left, from the checkpoint it wrote (every node
    must see the results folder: one machine, or a shared file system). A job that still cannot finish
    after :data:`NODE_FAILURE_RETRIES` retries is recorded as failed, and the grid goes on.
    """
    try:
        import ray
        from ray.exceptions import RayError
    except ImportError as error:
        raise ImportError("--backend ray needs Ray: pip install 'sb3-distill[ray]'.") from error
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    remote_run = ray.remote(num_cpus=1, max_retries=NODE_FAILURE_RETRIES, retry_exceptions=False)(run_job)
    records: list[dict[str, Any]] = []
    try:
        for phase in _phases(plan):
            jobs = {remote_run.remote(job): job for job in phase}
            pending = list(jobs)
            while pending:
                finished, pending = ray.wait(pending, num_returns=1)
                try:
                    records.append(ray.get(finished[0]))
                except RayError as error:  # its node died more often than it was retried
                    job = jobs[finished[0]]
                    # Ray's first sentence says what happened; the rest is how to debug a cluster
                    message = str(error).split(". ")[0] if str(error) else type(error).__name__
                    records.append({"key": job.key, "status": "failed", "error": f"{type(error).__name__}: {message}"})
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
