"""The run API, CLI and grid with a student that sees less than the teacher (issue 17): its entries of the
observation (``student_observation``) and its memory (``frame_stack``)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecFrameStack

import sb3_distill
from sb3_distill import envs
from sb3_distill.cli.main import main
from sb3_distill.common.teacher_views import ObservationGroups, SharedObservation, teacher_view_of
from sb3_distill.envs.partial import SelectObservation
from sb3_distill.evaluation import EVAL_SEED_OFFSET
from sb3_distill.experiment import ConfigError, DistillConfig, distill, resume
from sb3_distill.runs.checkpointing import RunInterrupted

POSITIONS = (0, 2)


class StopAt(BaseCallback):
    """Send this process SIGTERM once training passes ``timesteps``: the run checkpoints and stops."""

    def __init__(self, timesteps: int):
        super().__init__()
        self.timesteps = timesteps
        self.sent = False

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.timesteps and not self.sent:
            self.sent = True
            os.kill(os.getpid(), signal.SIGTERM)
        return True


def test_the_training_environment_shows_each_side_its_view():
    env = envs.make("CartPole-v1", 2, 0, student_observation=POSITIONS, frame_stack=3)
    view = teacher_view_of(env)
    assert isinstance(view, ObservationGroups)
    assert env.observation_space.shape == (6,)  # three stacked observations of two entries
    assert view.teacher_observation_space.shape == (4,)  # the full state, one observation
    obs = env.reset()
    np.testing.assert_array_equal(obs[:, -2:], view.teacher_observations()[:, list(POSITIONS)])
    stacked = envs.make("CartPole-v1", 2, 0, frame_stack=4)  # the student's memory only: the teacher reads one
    assert isinstance(teacher_view_of(stacked), SharedObservation)
    assert stacked.observation_space.shape == (16,) and teacher_view_of(stacked).teacher_observation_space.shape == (4,)
    assert teacher_view_of(envs.make("CartPole-v1", 2, 0)) is None  # nothing to split: no view


@pytest.mark.slow
def test_a_blind_run_resumes_and_its_student_deploys_with_its_entries_only(tmp_path):
    out = str(tmp_path / "run")
    config = DistillConfig(
        student_observation="0,2", frame_stack=4, steps=4096, eval_episodes=5, checkpoint_every=1024, seed=1
    )
    with pytest.raises(RunInterrupted):
        distill(config, out, callbacks=[StopAt(2048)], verbose=0)
    result = resume(out, verbose=0)
    assert result.timesteps == 4096
    with open(os.path.join(out, "results.json")) as file:
        record = json.load(file)
    assert record["config"]["student_observation"] == [0, 2] and record["config"]["frame_stack"] == 4
    # the saved student is a plain PPO of the deployed robot's observation: two entries, four of them stacked
    student = PPO.load(os.path.join(out, "student.zip"), device="cpu")
    assert student.observation_space.shape == (8,)
    deployed = VecFrameStack(
        make_vec_env(lambda: SelectObservation(gym.make("CartPole-v1"), [0, 2]), 1, seed=1 + EVAL_SEED_OFFSET), 4
    )
    mean, _ = evaluate_policy(student, deployed, n_eval_episodes=5)
    assert mean == pytest.approx(record["student_mean_return"])  # the run evaluated it exactly so


def test_bad_student_views_are_refused_before_training(tmp_path):
    with pytest.raises(ConfigError, match=r"student_observation must be entries such as '0,2' or a range '0:8'"):
        DistillConfig(student_observation="0:x")
    with pytest.raises(ConfigError, match="names an entry twice"):
        DistillConfig(student_observation=[1, 1])
    with pytest.raises(ConfigError, match="frame_stack must be positive, got 0"):
        DistillConfig(frame_stack=0)
    out = tmp_path / "refused"
    assert main(["distill", "--student-observation", "0,9", "--steps", "2048", "--out", str(out), "--no-progress"]) == 2
    assert not out.exists()
    with pytest.raises(ValueError, match=r"MinAtar/Breakout-v1 \(minatar\) observes images"):
        envs.make("MinAtar/Breakout-v1", 1, 0, student_observation=[0])
    with pytest.raises(ConfigError, match="RL Zoo's layout names no wrapper"):
        distill(DistillConfig(student_observation=POSITIONS, steps=2048), zoo_log_folder=str(tmp_path / "logs"))


def test_a_grid_sweeps_the_students_memory_on_its_entries(tmp_path):
    teacher = Path(sb3_distill.__file__).parent / "teachers" / "CartPole-v1" / "CartPole-v1.zip"
    spec = tmp_path / "blind.yaml"
    spec.write_text(
        "seeds: [0]\nmethods: [ppd]\nstudents: [same]\nenvs:\n"
        f"  CartPole-v1:\n    teacher: {teacher}\n    distill_steps: 1024\n    eval_episodes: 2\n"
        "    curve_points: 1\n    curve_episodes: 1\n    student_observation: 0,2\n"
        "sweep:\n  ppd: {frame_stack: [1, 4]}\n"
    )
    out = tmp_path / "out"
    assert main(["bench", str(spec), "--out", str(out)]) == 0
    for stack, width in ((1, 2), (4, 8)):
        folder = out / "runs" / "CartPole-v1" / "original" / f"ppd-frame_stack={stack}-same-s0"
        record = json.loads((folder / "results.json").read_text())
        assert record["config"]["student_observation"] == [0, 2] and record["config"]["frame_stack"] == stack
        assert PPO.load(folder / "student.zip", device="cpu").observation_space.shape == (width,)
    assert main(["report", str(out)]) == 0
    assert "same ppd frame_stack=4" in (out / "report.md").read_text()


def test_info_shows_both_views(capsys):
    assert (
        main(["info", "--env", "CartPole-v1", "--student-observation", "0,2", "--frame-stack", "3", "--student", "same"]) == 0
    )
    out = capsys.readouterr().out
    assert "teacher reads (4,) (the full observation); student reads entries [0, 2], last 3: (6,)" in out


@pytest.mark.slow
def test_a_recurrent_blind_run_resumes_and_deploys_as_a_recurrent_ppo(tmp_path):
    sb3_contrib = pytest.importorskip("sb3_contrib")
    out = str(tmp_path / "run")
    config = DistillConfig(
        student_observation=POSITIONS,
        recurrent=True,
        steps=2048,
        eval_episodes=3,
        checkpoint_every=512,
        params={"n_steps": 32, "batch_size": 64, "policy_kwargs": {"lstm_hidden_size": 16}},
    )
    with pytest.raises(RunInterrupted):
        distill(config, out, callbacks=[StopAt(1024)], verbose=0)
    assert resume(out, verbose=0).timesteps == 2048
    record = json.loads(Path(out, "results.json").read_text())
    student = sb3_contrib.RecurrentPPO.load(os.path.join(out, "student.zip"), device="cpu")
    assert student.observation_space.shape == (2,)
    deployed = make_vec_env(lambda: SelectObservation(gym.make("CartPole-v1"), [0, 2]), 1, seed=EVAL_SEED_OFFSET)
    mean, _ = evaluate_policy(student, deployed, n_eval_episodes=3)
    assert mean == pytest.approx(record["student_mean_return"])


def test_a_recurrent_student_takes_no_preset_and_checks_its_own_arguments():
    with pytest.raises(ConfigError, match="preset 'paper' is a setting of the feed-forward algorithms"):
        DistillConfig(recurrent=True, preset="paper")
    pytest.importorskip("sb3_contrib")
    with pytest.raises(ConfigError, match=r"unknown argument 'lstm_size' of ppd \(RecurrentPPD\)"):
        DistillConfig(recurrent=True, params={"lstm_size": 8})


def test_a_sweep_may_list_its_points(tmp_path):
    from sb3_distill.bench.plan import plan
    from sb3_distill.bench.spec import SpecError, load_spec

    spec = tmp_path / "points.yaml"
    head = (
        "seeds: [0]\nmethods: [ppd]\nstudents: [same]\nenvs:\n"
        "  CartPole-v1:\n    teacher: train\n    teacher_steps: 1000\n    distill_steps: 1000\n"
    )
    spec.write_text(head + "sweep:\n  ppd: [{}, {frame_stack: 4}, {recurrent: true}]\n")
    labels = sorted(job.label for job in plan(load_spec(str(spec)), str(tmp_path / "out")).runs)
    assert labels == ["ppd", "ppd frame_stack=4", "ppd recurrent=True"]  # not the 4 of a product
    spec.write_text(head + "sweep:\n  ppd: [{frame_stack: 4}, {frame_stack: 4}]\n")
    with pytest.raises(SpecError, match="repeats a point"):
        load_spec(str(spec))
    spec.write_text(head + "sweep:\n  ppd: [{recurrent: 1}]\n")
    with pytest.raises(SpecError, match="recurrent takes true or false, got 1"):
        load_spec(str(spec))
