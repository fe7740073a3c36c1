"""``sb3-distill bench SPEC.yaml --out DIR``: the grid of a spec, locally or on Ray; finished runs are kept."""

from __future__ import annotations

import argparse
import os
import shutil

from sb3_distill.bench import load_spec, plan
from sb3_distill.bench.backends import run_local, run_ray, summarize
from sb3_distill.cli.output_dir import prepare_output_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="the grid's YAML spec (see benchmarks/specs/)")
    parser.add_argument("--out", required=True, help="results folder; a restarted grid skips the runs that finished there")
    parser.add_argument("--backend", choices=["local", "ray"], default="local")
    parser.add_argument("--workers", type=int, default=1, help="processes of the local backend")
    parser.add_argument("--ray-address", default=None, help="address of a running Ray cluster (default: start a local one)")


def run(args: argparse.Namespace) -> dict:
    spec = load_spec(args.spec)  # every spec error before anything runs
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}.")
    out = prepare_output_dir(args.out)
    shutil.copy(args.spec, os.path.join(out, "spec.yaml"))
    jobs = plan(spec, out)
    print(f"{len(jobs.teachers)} teacher jobs and {len(jobs.runs)} distillation runs in {out}")

    def report(record: dict) -> None:
        status = record["status"]
        detail = f" ({record['error']})" if status == "failed" else ""
        print(f"[{status}] {record['key']}{detail}", flush=True)

    if args.backend == "ray":
        records = run_ray(jobs, args.ray_address, report)
    else:
        records = run_local(jobs, args.workers, report)
    counts = summarize(records)
    print(f"grid finished: {counts['done']} run, {counts['skipped']} already done, {counts['failed']} failed")
    return counts
