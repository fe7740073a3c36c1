"""Run a spec's grid into a results folder: teachers first, then every distillation run; finished runs are kept."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from sb3_distill.bench.backends import run_local, run_ray, summarize
from sb3_distill.bench.plan import plan
from sb3_distill.bench.spec import load_spec
from sb3_distill.experiment.run_folder import prepare_output_dir


def run_grid(
    spec_path: str,
    out: str,
    backend: str = "local",
    workers: int = 1,
    ray_address: str | None = None,
    report: Callable[[dict[str, Any]], None] | None = None,
    verbose: int = 1,
) -> dict[str, int]:
    """Run every job of the spec at ``spec_path`` into ``out``; a restarted grid skips the runs that finished.

    :param spec_path: the grid's YAML spec (checked whole before anything runs)
    :param out: the results folder (the spec is copied there as ``spec.yaml``)
    :param backend: ``local`` (a process pool) or ``ray``
    :param workers: processes of the local backend
    :param ray_address: a running Ray cluster's address (``None``: start a local one)
    :param report: called with each job's record as it finishes
    :param verbose: 0: silent; 1: how many jobs the grid has
    :return: how many jobs were ``done``, ``skipped`` (finished before) and ``failed``
    """
    spec = load_spec(spec_path)
    if backend not in ("local", "ray"):
        raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}.")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}.")
    folder = prepare_output_dir(out)
    shutil.copy(spec_path, os.path.join(folder, "spec.yaml"))
    jobs = plan(spec, folder)
    if verbose:
        print(f"{len(jobs.teachers)} teacher jobs and {len(jobs.runs)} distillation runs in {folder}")
    records = run_ray(jobs, ray_address, report or _quiet) if backend == "ray" else run_local(jobs, workers, report or _quiet)
    return summarize(records)


def _quiet(record: dict[str, Any]) -> None:
    pass
