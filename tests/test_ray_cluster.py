"""A grid on a Ray cluster of two nodes survives losing one: its run goes on from its checkpoint on the other.

The two nodes are started as a user would on two machines (``ray start --head``, then ``ray start
--address``), here on one machine, each in a session of its own so that killing a session is losing a node:
its raylet, its object store and the worker running a distillation run all die at once.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from stable_baselines3 import PPO

from sb3_distill.teachers import bundled_teacher_path

pytest.importorskip("ray")

STEPS = 8192  # a multiple of every rollout (2 environments x PPD's n_steps), so a finished run has exactly these


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_node(*arguments: str, env: dict[str, str]) -> int:
    """Start a node in a session of its own; return the session, which holds every process of the node
    (``ray start`` leads it and exits, leaving the raylet and the workers the raylet forks)."""
    ray = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")
    start = subprocess.Popen(
        [ray, "start", "--num-cpus=1", "--disable-usage-stats", *arguments],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output, _ = start.communicate(timeout=120)
    assert start.returncode == 0, output
    return start.pid


def _kill_session(session: int) -> None:
    try:
        os.killpg(session, signal.SIGKILL)  # a session leader's pid is its process group too
    except ProcessLookupError:
        pass


def _lock_holder(run: str) -> int | None:
    """The pid that owns a run folder (sb3_distill.experiment.run_folder writes ``process PID`` in ``.lock``)."""
    try:
        with open(os.path.join(run, ".lock")) as file:
            return int(file.read().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


@pytest.mark.xdist_group("ray")  # one Ray cluster at a time on this machine
@pytest.mark.timeout(420)
def test_grid_survives_losing_a_node(tmp_path):
    # A local test cluster: no token (a ~/.ray/auth_token left by another tool would make the two nodes disagree).
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    port = _free_port()
    head = _start_node("--head", f"--port={port}", "--include-dashboard=false", env=env)
    worker = None
    bench = None
    try:
        worker = _start_node(f"--address=127.0.0.1:{port}", env=env)
        spec = tmp_path / "spec.yaml"
        spec.write_text(
            f"seeds: [0, 1]\nmethods: [ppd]\nstudents: [smaller]\nteachers: [original]\nenvs:\n"
            f"  CartPole-v1:\n    teacher: {bundled_teacher_path()}\n    distill_steps: {STEPS}\n"
            "    eval_episodes: 2\n    n_envs: 2\n"
        )
        out = tmp_path / "out"
        command = ["bench", str(spec), "--out", str(out), "--backend", "ray", "--ray-address", f"127.0.0.1:{port}"]
        bench = subprocess.Popen(
            [sys.executable, "-m", "sb3_distill.cli.main", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        killed_run = None
        deadline = time.monotonic() + 300
        while bench.poll() is None and killed_run is None and time.monotonic() < deadline:
            time.sleep(0.2)
            for run in glob.glob(str(out / "runs" / "*" / "*" / "*")):
                pid = _lock_holder(run)
                if pid is None or not glob.glob(os.path.join(run, "checkpoints", "step-*")):
                    continue
                try:
                    on_worker = os.getsid(pid) == worker
                except ProcessLookupError:
                    continue
                if on_worker and not os.path.exists(os.path.join(run, "results.json")):
                    _kill_session(worker)  # the node is lost mid-run, after its run's first checkpoint
                    killed_run = run
                    break
        assert killed_run is not None, "no run was seen on the worker node with a checkpoint and unfinished"
        output, _ = bench.communicate(timeout=300)
        assert bench.returncode == 0, output
        assert "grid finished: 4 run, 0 already done, 0 failed" in output, output
        runs = sorted(glob.glob(str(out / "runs" / "*" / "*" / "*")))
        assert len(runs) == 2
        for run in runs:
            results = json.loads(open(os.path.join(run, "results.json")).read())
            assert results["steps"] == results["timesteps"] == STEPS
            assert PPO.load(os.path.join(run, "student.zip")).num_timesteps == STEPS
            assert results["resumed"] == (run == killed_run)  # the lost run went on from its checkpoint
    finally:
        if bench is not None and bench.poll() is None:
            bench.kill()
        for session in (worker, head):
            if session is not None:
                _kill_session(session)
        _forget_cluster(port)


def _forget_cluster(port: int) -> None:
    """Remove the address `ray start --head` left for ``ray.init()`` to connect to, when it is this test's
    (killed, the head cannot remove it, and a later ``ray.init()`` would try the dead cluster)."""
    from ray._common.utils import get_ray_address_file

    path = get_ray_address_file(None)
    try:
        with open(path) as file:
            ours = file.read().strip().endswith(f":{port}")
        if ours:
            os.remove(path)
    except OSError:
        pass
