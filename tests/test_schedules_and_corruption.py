"""λ schedules (linear, exponential, QDagger's performance ratio, CLI strings) and corrupted teachers."""

from __future__ import annotations

import json
import math
from collections import deque

import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from sb3_distill import PPD, corrupt_teacher, load_teacher, schedules
from sb3_distill.cli.main import main
from sb3_distill.teachers import bundled_teacher_path


def test_linear():
    schedule = schedules.linear(3.0, 0.001, 1e6)
    assert schedule(0) == 3.0
    assert schedule(500_000) == pytest.approx((3.0 + 0.001) / 2)
    assert schedule(1_000_000) == pytest.approx(0.001) and schedule(5_000_000) == pytest.approx(0.001)


def test_exponential_is_geometric():
    schedule = schedules.exponential(1.0, 0.01, 100)
    assert schedule(0) == 1.0 and schedule(100) == pytest.approx(0.01) and schedule(1000) == pytest.approx(0.01)
    assert schedule(50) == pytest.approx(0.1)  # the geometric midpoint
    with pytest.raises(ValueError, match="start > 0"):
        schedules.exponential(0.0, 1.0, 10)


def test_performance_ratio_reads_recent_student_returns():
    model = PPD("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), n_steps=32, batch_size=64)
    schedule = schedules.performance_ratio(teacher_return=200.0)
    model.set_teacher(bundled_teacher_path(), distill_lambda=schedule)
    assert model.current_lambda() == 1.0  # no episode yet
    model.ep_info_buffer = deque(maxlen=100)  # as learn() sets it up
    model.ep_info_buffer.extend([{"r": 50.0, "l": 50}, {"r": 150.0, "l": 150}])
    assert model.current_lambda() == pytest.approx(1 - 100.0 / 200.0)
    model.ep_info_buffer.extend([{"r": 500.0, "l": 500}] * 10)
    assert model.current_lambda() == 0.0  # the student beats the teacher: max(..., 0)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1.5", 1.5),
        ("lin:3.0:0.001:1e6", "linear(3.0, 0.001, 1e+06)"),
        ("exp:2:0.5:1000", "exponential(2.0, 0.5, 1000)"),
        ("ratio", "performance_ratio(400.0)"),
    ],
)
def test_cli_strings(text, expected):
    value = schedules.parse(text, teacher_return=400.0)
    assert (value if isinstance(value, float) else repr(value)) == expected


@pytest.mark.parametrize("text", ["-1", "lin:3:0.1", "lin:a:b:c", "cos:1:0:10", "nan", "exp:1:0:10", "lin:1:0:0"])
def test_bad_cli_strings_are_named(text):
    with pytest.raises(ValueError, match=r"λ|schedule|start|steps"):
        schedules.parse(text, teacher_return=1.0)


def test_schedules_drive_logged_lambda(tmp_path):
    model = PPD("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), n_steps=32, batch_size=64)
    model.set_teacher(bundled_teacher_path(), distill_lambda=schedules.linear(2.0, 0.0, 256))
    model.learn(128)
    assert model.current_lambda() == pytest.approx(1.0)


def parameters(teacher) -> th.Tensor:
    return th.cat([p.flatten() for p in teacher.policy.parameters()])


def test_corrupt_teacher_adds_seeded_gaussian_noise_and_leaves_the_source():
    original = load_teacher(bundled_teacher_path())
    before = parameters(original).clone()
    corrupted = corrupt_teacher(bundled_teacher_path(), sigma=0.05, seed=3)
    noise = parameters(corrupted) - before
    assert noise.numel() > 5000
    assert abs(noise.std().item() - 0.05) < 0.0025 and abs(noise.mean().item()) < 0.0025
    assert th.equal(parameters(corrupt_teacher(bundled_teacher_path(), sigma=0.05, seed=3)), parameters(corrupted))
    assert not th.equal(parameters(corrupt_teacher(bundled_teacher_path(), sigma=0.05, seed=4)), parameters(corrupted))
    assert th.equal(parameters(load_teacher(bundled_teacher_path())), before)
    model = PPO.load(bundled_teacher_path())
    corrupt_teacher(model, sigma=0.1, seed=0)
    assert th.equal(th.cat([p.flatten() for p in model.policy.parameters()]), before), "the model object is not modified"


def test_corrupt_command_writes_a_loadable_noisy_zip(tmp_path, capsys):
    out = tmp_path / "corrupted" / "teacher.zip"
    assert (
        main(
            [
                "corrupt",
                "--teacher",
                bundled_teacher_path(),
                "--sigma",
                "0.05",
                "--seed",
                "1",
                "--out",
                str(out),
                "--eval-episodes",
                "3",
            ]
        )
        == 0
    )
    noise = parameters(load_teacher(str(out))) - parameters(load_teacher(bundled_teacher_path()))
    assert abs(noise.std().item() - 0.05) < 0.0025
    config = json.loads((out.parent / "config.json").read_text())
    assert config["env"] == "CartPole-v1" and config["sigma"] == 0.05
    assert math.isfinite(config["corrupted_mean_return"]) and config["original_mean_return"] == 500.0
    assert "corrupted teacher mean return" in capsys.readouterr().out
    assert main(["corrupt", "--teacher", bundled_teacher_path(), "--sigma", "-1", "--out", str(out)]) == 2
