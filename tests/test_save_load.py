"""The student is a plain SB3 model: its zip holds no teacher, PPO loads it, PPD reloads and continues."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.save_util import load_from_zip_file

from sb3_distill import PPD, StudentDistill, TeacherDistill
from tests.conftest import ALGORITHMS, identity_vec_env

SMALL = dict(n_steps=32, batch_size=64, n_epochs=2)


def zip_data(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("data").decode())


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.__name__)
def test_zip_never_contains_the_teacher(algorithm, identity_teachers, tmp_path):
    kwargs = SMALL if algorithm is PPD else dict(n_steps=8)
    model = algorithm("MlpPolicy", identity_vec_env("discrete"), seed=0, **kwargs)
    model.set_teacher(identity_teachers["discrete"], distill_lambda=lambda t: 1.0)
    model.learn(256)
    path = tmp_path / "student.zip"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert sorted(name for name in names if name.endswith(".pth")) == [
        "policy.optimizer.pth",
        "policy.pth",
        "pytorch_variables.pth",
    ]
    data = zip_data(path)
    assert "teacher" not in data and "distill_lambda" not in data
    serialized = json.dumps(data)
    assert "sb3_distill" not in serialized, "the zip must load without this package"
    # the saved policy is the student's alone: the same tensors as a fresh student's policy
    _, params, _ = load_from_zip_file(path)
    fresh = algorithm("MlpPolicy", identity_vec_env("discrete"), **kwargs).policy.state_dict()
    assert {k: v.shape for k, v in params["policy"].items()} == {k: v.shape for k, v in fresh.items()}


def test_ppo_loads_a_ppd_student_and_keeps_training_without_teacher(identity_teachers, tmp_path):
    env = identity_vec_env("discrete")
    student = PPD("MlpPolicy", env, seed=0, **SMALL)
    student.set_teacher(identity_teachers["discrete"])
    student.learn(512)
    student.save(tmp_path / "student.zip")

    observations = np.arange(4)
    loaded = PPO.load(tmp_path / "student.zip", env=env)
    assert type(loaded) is PPO
    expected, _ = student.predict(observations, deterministic=True)
    actual, _ = loaded.predict(observations, deterministic=True)
    np.testing.assert_array_equal(actual, expected)
    for a, b in zip(student.policy.parameters(), loaded.policy.parameters(), strict=True):
        assert th.equal(a, b)
    before = [p.clone() for p in loaded.policy.parameters()]
    loaded.learn(256, reset_num_timesteps=False)
    assert loaded.num_timesteps == 512 + 256
    assert any(not th.equal(a, b) for a, b in zip(before, loaded.policy.parameters(), strict=True))


@pytest.mark.parametrize("algorithm", [StudentDistill, TeacherDistill], ids=lambda a: a.__name__)
def test_ppo_loads_student_and_teacher_distill_students(algorithm, identity_teachers, tmp_path):
    student = algorithm("MlpPolicy", identity_vec_env("discrete"), seed=0, n_steps=8)
    student.set_teacher(identity_teachers["discrete"])
    student.learn(128)
    student.save(tmp_path / "student.zip")
    loaded = PPO.load(tmp_path / "student.zip", env=identity_vec_env("discrete"))
    loaded.learn(128)
    observations = np.arange(4)
    np.testing.assert_array_equal(
        PPO.load(tmp_path / "student.zip").predict(observations, deterministic=True)[0],
        student.predict(observations, deterministic=True)[0],
    )


def test_ppd_load_then_set_teacher_continues_distillation(identity_teachers, tmp_path):
    env = identity_vec_env("discrete")
    student = PPD("MlpPolicy", env, seed=0, **SMALL)
    student.set_teacher(identity_teachers["discrete"], distill_lambda=2.0, kl_mode="reverse")
    student.learn(256)
    student.save(tmp_path / "student.zip")

    loaded = PPD.load(tmp_path / "student.zip", env=env)
    assert loaded.teacher is None
    with pytest.raises(RuntimeError, match="set_teacher"):
        loaded.learn(128, reset_num_timesteps=False)
    loaded.set_teacher(identity_teachers["discrete"], distill_lambda=2.0, kl_mode="reverse")
    loaded.learn(256, reset_num_timesteps=False)
    assert loaded.num_timesteps == 512
    assert loaded.kl_mode == "reverse" and loaded.current_lambda() == 2.0
    assert loaded.teacher_source is not None and loaded.teacher_source.endswith("discrete.zip")


def test_teacher_in_constructor_as_path_or_model(identity_teachers):
    env = identity_vec_env("discrete")
    by_path = PPD("MlpPolicy", env, teacher=identity_teachers["discrete"], distill_lambda=0.5, seed=0, **SMALL)
    assert by_path.teacher is not None and by_path.current_lambda() == 0.5
    model = PPO.load(identity_teachers["discrete"])
    by_model = StudentDistill("MlpPolicy", env, teacher=model, seed=0, n_steps=8)
    observations = np.arange(4).reshape(-1, 1)
    np.testing.assert_allclose(by_path.teacher.label(observations)[0], by_model.teacher.label(observations)[0], atol=1e-6)
    by_path.learn(128)
