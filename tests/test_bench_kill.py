"""A grid killed with SIGKILL at an arbitrary moment and restarted keeps every finished run, resumes the runs
that have a checkpoint and starts the others over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest

from sb3_distill.runs import CheckpointError, latest_checkpoint

SPEC = """\
seeds: [0]
methods: [ppd, student-distill, ppo]
students: [smaller]
envs:
  CartPole-v1:
    teacher: train
    teacher_steps: 1024
    distill_steps: 2048
    eval_episodes: 2
    n_envs: 2
"""
RUNS = [
    f"runs/CartPole-v1/{group}/{method}-smaller-s{seed}"
    for seed in (0,)
    for group, method in (("original", "ppd"), ("original", "student-distill"), ("no-teacher", "ppo"))
]
TEACHERS = ["teachers/CartPole-v1/s0-original"]


def _bench(spec, out) -> subprocess.Popen:
    # a session of its own: the kill takes the pool's workers too, as a preempted node or a closed laptop would
    return subprocess.Popen(
        [sys.executable, "-m", "sb3_distill.cli.main", "bench", str(spec), "--out", str(out), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _has_checkpoint(folder) -> bool:
    try:
        latest_checkpoint(str(folder))
    except CheckpointError:
        return False
    return True


def _finished(out) -> dict[str, int]:
    """Folder -> mtime of its done.json, for every job that finished."""
    done = {}
    for key in TEACHERS + RUNS:
        path = out / key / "done.json"
        if path.exists():
            done[key] = path.stat().st_mtime_ns
    return done


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
@pytest.mark.parametrize("kill", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_grid_restarts_without_losing_finished_runs(tmp_path, kill):
    """SIGKILL: runs in flight lose the work since their last checkpoint. SIGTERM: they save one first."""
    spec = tmp_path / "grid.yaml"
    spec.write_text(SPEC)
    out = tmp_path / "out"
    process = _bench(spec, out)
    deadline = time.monotonic() + 600
    while not any(key.startswith("runs/") for key in _finished(out)):  # kill once the first student finished
        assert process.poll() is None, f"the grid ended before it could be killed:\n{process.stdout.read()}"
        assert time.monotonic() < deadline, "no run finished in 10 minutes"
        time.sleep(0.02)
    os.killpg(process.pid, kill)
    process.wait()
    process.stdout.close()
    time.sleep(3)  # time for the workers to save on SIGTERM, or for orphaned workers to (wrongly) go on
    before = _finished(out)
    assert set(TEACHERS) <= set(before)
    unfinished = [key for key in RUNS if key not in before]
    assert unfinished, "every run finished before the kill: the test proved nothing"
    assert any((out / key).exists() for key in unfinished), "no run was interrupted in the middle"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checkpointed = {key for key in unfinished if (out / key).exists() and _has_checkpoint(out / key)}
    in_flight = {key for key in unfinished if (out / key).exists()}
    assert not any((out / key / "error.json").exists() for key in unfinished)  # an interrupted run is not a failure
    if kill == signal.SIGTERM:  # each run that had begun to learn (its TensorBoard folder exists) saved a checkpoint
        assert {key for key in in_flight if (out / key / "tb").exists()} <= checkpointed
    time.sleep(2)
    assert _finished(out) == before, "a worker went on after its grid was killed"

    restart = _bench(spec, out)
    printed, _ = restart.communicate(timeout=600)
    assert restart.returncode == 0, printed
    after = _finished(out)
    assert set(after) == set(TEACHERS + RUNS), printed
    for key, mtime in before.items():  # kept as they were, not redone
        assert after[key] == mtime, f"{key} was redone after the restart"
        assert f"[skipped] {key}" in printed
    for key in unfinished:
        record = json.loads((out / key / "done.json").read_text())
        assert record["status"] == "done" and record["steps"] == 2048
        assert record["resumed"] == (key in checkpointed), key  # killed runs go on from their checkpoint
        assert not (out / key / "error.json").exists()
    assert f"grid finished: {len(unfinished)} run, {len(before)} already done, 0 failed" in printed
