"""Teacher training loses at most the work since its last checkpoint: train-teacher --resume after SIGKILL or
SIGINT, finished teachers left alone, changed settings refused, checkpoints read through the allow-list, and
the grid's teacher jobs resumed.

A resumed teacher is not bit-identical to one trained without a stop (the environments start new episodes, as
for distillation runs), so its parameters are not compared with an uninterrupted run's; the tests check where it
resumed from, its timesteps and a score that an untrained or random policy cannot reach (see ``LEARNED``).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

from sb3_distill.cli.main import main
from sb3_distill.common.safe_loading import UnsafePickleError
from sb3_distill.experiment import resume_teacher
from sb3_distill.runs import last_good_checkpoint, latest_checkpoint
from sb3_distill.runs.checkpoints import TEACHER, checkpoints
from tests.test_safe_loading import MarkerPayload, reseal, rewrite_zip, serialized, with_data_entry

STEPS = 8192
TRAIN = [
    "train-teacher",
    "--env",
    "CartPole-v1",
    "--steps",
    str(STEPS),
    "--n-envs",
    "2",
    "--checkpoint-every",
    "1024",
    "--param",
    "n_steps=128",
    "batch_size=64",
    "n_epochs=4",
    "--eval-episodes",
    "10",
    "--no-progress",
]
#: A uniformly random CartPole-v1 policy lasts about 22 steps (standard deviation about 12), so its mean over 10
#: episodes has a standard error of about 4; an untrained PPO policy evaluated deterministically takes one
#: action and falls in about 10. 100 lies some 20 standard errors above the random mean: only a teacher that
#: learned reaches it (this one reaches 450-500 at 8,192 steps, resumed or not).
LEARNED = 100
#: torch's threads fight over the shared cores (2 threads on 2 busy cores ran 20x slower than 1).
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = th.get_num_threads()
    th.set_num_threads(1)
    yield
    th.set_num_threads(threads)


def _start(out) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sb3_distill.cli.main", *TRAIN, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ONE_THREAD,
    )


def _wait_for_a_checkpoint(process: subprocess.Popen, folder) -> None:
    deadline = time.monotonic() + 120
    while last_good_checkpoint(str(folder)) is None:
        assert process.poll() is None, f"ended before its first checkpoint:\n{process.communicate()}"
        assert time.monotonic() < deadline, "no checkpoint in 2 minutes"
        time.sleep(0.01)


def _stamps(folder) -> dict[str, int]:
    """mtime of every file under ``folder`` but the lock (which a process opens to own the folder)."""
    return {
        os.path.relpath(os.path.join(root, name), folder): os.stat(os.path.join(root, name)).st_mtime_ns
        for root, _, names in os.walk(folder)
        for name in names
        if name != ".lock"
    }


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A train-teacher killed with SIGKILL after its first checkpoint: ``(folder, the checkpoint's step)``."""
    out = tmp_path_factory.mktemp("killed") / "teacher"
    process = _start(out)
    _wait_for_a_checkpoint(process, out)
    process.kill()
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    # config.json marks a teacher source: a teacher killed in training has none, and no final zip
    assert not (out / "config.json").exists() and not (out / "CartPole-v1.zip").exists()
    return out, latest_checkpoint(str(out)).timesteps


class StartingPoint(BaseCallback):
    """The timesteps and weights that ``learn`` starts from."""

    def _on_training_start(self) -> None:
        self.timesteps = self.model.num_timesteps
        self.weights = {name: value.clone() for name, value in self.model.policy.state_dict().items()}

    def _on_step(self) -> bool:
        return True


@pytest.fixture(scope="module")
def finished(killed):
    """The killed teacher, finished with resume_teacher (as --resume does): ``(folder, its starting point)``."""
    out, step = killed
    checkpoint = PPO.load(os.path.join(latest_checkpoint(str(out)).folder, TEACHER), device="cpu")
    start = StartingPoint()
    resume_teacher(str(out), verbose=0, device="cpu", callbacks=[start])
    assert start.timesteps == step == checkpoint.num_timesteps
    for name, value in checkpoint.policy.state_dict().items():  # the checkpoint's weights, not new ones
        assert th.equal(start.weights[name], value), name
    return out


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A train-teacher stopped with a real SIGINT after its first checkpoint: ``(folder, return code, stderr)``."""
    out = tmp_path_factory.mktemp("interrupted") / "teacher"
    process = _start(out)
    _wait_for_a_checkpoint(process, out)
    process.send_signal(signal.SIGINT)
    _, error = process.communicate(timeout=120)
    return out, process.returncode, error


def test_a_killed_teacher_resumes_from_its_checkpoint(killed, finished):
    """SIGKILL after the first checkpoint: the resumed training starts from it (its step and weights, checked
    in ``finished``) and ends at --steps."""
    _, step = killed
    assert 1024 <= step < STEPS
    record = json.loads((finished / "config.json").read_text())
    assert record["resumed"] and record["resumed_from"] == step  # went on from the checkpoint, not from 0
    assert record["timesteps"] == STEPS and record["steps"] == STEPS
    assert PPO.load(finished / "CartPole-v1.zip", device="cpu").num_timesteps == STEPS
    assert record["eval_mean_return"] >= LEARNED
    assert record["config"]["checkpoint_every"] == 1024  # the stored settings, not the defaults
    assert record["params"] == {"n_steps": 128, "batch_size": 64, "n_epochs": 4}
    assert latest_checkpoint(str(finished)).timesteps == STEPS  # saved before the evaluation
    assert len(checkpoints(str(finished))) == 2  # --keep-checkpoints' default


def test_sigint_saves_a_checkpoint_and_resume_finishes_it(interrupted, tmp_path, capsys):
    out, code, error = interrupted
    assert code == 128 + signal.SIGINT
    lines = error.strip().splitlines()
    assert len(lines) == 1, error
    saved = latest_checkpoint(str(out))
    assert lines[0].startswith(f"sb3-distill train-teacher: SIGINT: stopped at {saved.timesteps} of {STEPS} timesteps")
    assert f"Resume with: sb3-distill train-teacher --resume {out}" in lines[0]
    assert not (out / "config.json").exists()

    copies = [tmp_path / "teacher", tmp_path / "again"]
    for copy in copies:
        shutil.copytree(out, copy)
        assert main(["train-teacher", "--resume", str(copy), "--no-progress", "--device", "cpu"]) == 0
        assert f"resuming {copy} from " in capsys.readouterr().out
        record = json.loads((copy / "config.json").read_text())
        assert record["resumed_from"] == saved.timesteps and record["timesteps"] == STEPS
        assert record["eval_mean_return"] >= LEARNED
    # the weights, optimizer, statistics and random states come back exactly: a checkpoint resumes the same way twice
    first, second = (PPO.load(copy / "CartPole-v1.zip", device="cpu").policy.state_dict() for copy in copies)
    assert all(th.equal(first[name], second[name]) for name in first)


def test_resuming_a_finished_teacher_says_so_and_changes_nothing(finished, capsys):
    before = _stamps(finished)
    assert main(["train-teacher", "--resume", str(finished), "--no-progress"]) == 0
    assert f"{finished} is a finished teacher ({STEPS} timesteps); nothing changed" in capsys.readouterr().out
    result = resume_teacher(str(finished), verbose=0)
    assert result.record["resumed"] and result.path == str(finished / "CartPole-v1.zip")
    assert main(["train-teacher", "--resume", str(finished), "--steps", str(STEPS), "--env", "CartPole-v1"]) == 0
    assert _stamps(finished) == before


@pytest.mark.parametrize(
    ("options", "refused"),
    [
        (["--steps", "50000"], "--steps (the teacher has steps=8192)"),
        (["--seed", "3"], "--seed (the teacher has seed=0)"),
        (["--out", "elsewhere"], "--out elsewhere (the teacher's folder is "),
    ],
)
def test_resume_refuses_options_that_would_change_the_teacher(finished, capsys, options, refused):
    before = _stamps(finished)
    assert main(["train-teacher", "--resume", str(finished), *options]) == 2
    error = capsys.readouterr().err
    assert error.startswith(
        f"sb3-distill train-teacher: error: --resume continues {finished} with the settings it was started with; {refused}"
    )
    assert error.count("\n") == 1, error
    assert _stamps(finished) == before


def test_resume_refuses_changes_to_an_unfinished_teacher(interrupted, capsys):
    out = interrupted[0]
    before = _stamps(out)
    assert main(["train-teacher", "--resume", str(out), "--param", "n_epochs=10"]) == 2
    error = capsys.readouterr().err
    assert "--param (the teacher has params={'n_steps': 128, 'batch_size': 64, 'n_epochs': 4})" in error
    assert error.count("\n") == 1, error
    assert _stamps(out) == before


def test_a_checkpoint_with_a_pickle_payload_is_refused(interrupted, tmp_path, capsys):
    out = tmp_path / "teacher"
    shutil.copytree(interrupted[0], out)
    checkpoint = latest_checkpoint(str(out)).folder
    marker = tmp_path / "marker"
    rewrite_zip(
        os.path.join(checkpoint, TEACHER), with_data_entry("lr_schedule", serialized(pickle.dumps(MarkerPayload(marker))))
    )
    reseal(checkpoint)
    before = _stamps(out)

    with pytest.raises(UnsafePickleError, match=r"posix\.mkdir.*teacher\.zip \(entry 'lr_schedule'\).*--trust-pickle"):
        resume_teacher(str(out), verbose=0)
    assert not marker.exists()

    assert main(["train-teacher", "--resume", str(out), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("sb3-distill train-teacher: error: ") and "posix.mkdir" in error and "--trust-pickle" in error
    assert len(error.splitlines()) == 1, error
    assert not marker.exists()
    assert _stamps(out) == before and not (out / "config.json").exists()


GRID = """\
seeds: [0]
methods: [ppd]
students: [smaller]
envs:
  CartPole-v1:
    teacher: train
    teacher_steps: 8192
    teacher_params: {n_steps: 128, batch_size: 64, n_epochs: 4}
    distill_steps: 256
    curve_points: 1
    curve_episodes: 1
    eval_episodes: 2
    n_envs: 2
    params: {ppd: {n_steps: 64}}
"""


def _bench(spec, out) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sb3_distill.cli.main", "bench", str(spec), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the kill takes the whole grid, as a lost machine would
        env=ONE_THREAD,
    )


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")
def test_a_killed_grid_resumes_its_teacher_from_the_checkpoint(tmp_path):
    spec = tmp_path / "grid.yaml"
    spec.write_text(GRID)
    out = tmp_path / "out"
    teacher = out / "teachers" / "CartPole-v1" / "s0-original"
    process = _bench(spec, out)
    _wait_for_a_checkpoint(process, teacher)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    step = latest_checkpoint(str(teacher)).timesteps
    assert 0 < step < 8192 and not (teacher / "done.json").exists() and not (teacher / "config.json").exists()

    restart = _bench(spec, out)
    printed, _ = restart.communicate(timeout=300)
    assert restart.returncode == 0, printed
    assert f"resuming {teacher} from " in printed
    record = json.loads((teacher / "config.json").read_text())
    assert record["resumed_from"] == step and record["timesteps"] == 8192  # not started over
    done = json.loads((teacher / "done.json").read_text())
    assert done["status"] == "done" and done["teacher_eval"] == record["eval_mean_return"]
    assert (out / "runs" / "CartPole-v1" / "original" / "ppd-smaller-s0" / "done.json").exists()
