"""``sb3-distill bench SPEC.yaml --out DIR``: the grid of a spec, locally or on Ray; finished runs are kept."""

from __future__ import annotations

import argparse
import os
import sys

from sb3_distill.bench import run_grid
from sb3_distill.bench.runner import ERROR
from sb3_distill.bench.spec import resolve_spec
from sb3_distill.bench.status import grid_status, summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="the grid's YAML spec: a path, or the name of a shipped spec such as small-cpu")
    parser.add_argument("--out", required=True, help="results folder; a restarted grid skips the runs that finished there")
    parser.add_argument("--backend", choices=["local", "ray"], default="local")
    parser.add_argument("--workers", type=int, default=1, help="processes of the local backend")
    parser.add_argument("--ray-address", default=None, help="address of a running Ray cluster (default: start a local one)")
    parser.add_argument(
        "--status",
        action="store_true",
        help="run nothing: say which jobs of the grid in --out finished, failed, started (with their newest "
        "checkpoint) or have not started",
    )


def run(args: argparse.Namespace) -> int:
    """Run the grid; the exit status: 0 when every job finished, 1 when any failed (each has its error.json).
    With ``--status``, say where it stands instead (exit status 0)."""
    if args.status:
        return _status(resolve_spec(args.spec), args.out)
    failed: list[str] = []

    def report(record: dict) -> None:
        status = record["status"]
        detail = f" ({record['error']})" if status == "failed" else ""
        if status == "failed":
            error_file = os.path.join(args.out, record["key"], ERROR)
            # a job lost with its node has no error.json: it resumes from its checkpoint when the grid restarts
            failed.append(error_file if os.path.exists(error_file) else f"{record['key']} ({record['error']})")
        print(f"[{status}] {record['key']}{detail}", flush=True)

    counts = run_grid(resolve_spec(args.spec), args.out, args.backend, args.workers, args.ray_address, report)
    print(f"grid finished: {counts['done']} run, {counts['skipped']} already done, {counts['failed']} failed")
    if failed:
        jobs = "1 job" if len(failed) == 1 else f"{len(failed)} jobs"
        print(f"sb3-distill bench: {jobs} failed; see {', '.join(failed)}", file=sys.stderr, flush=True)
        return 1
    return 0


def _status(spec: str, out: str) -> int:
    statuses = grid_status(spec, out)
    print(f"{out}: {summary(statuses)}")
    for status in statuses:
        if status.state in ("failed", "started"):
            print(f"[{status.state}] {status.key}: {status.detail}")
    return 0
