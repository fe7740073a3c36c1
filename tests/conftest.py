"""Shared fixtures: small teachers trained once per test session on SB3's identity environments."""

from __future__ import annotations

import os

# The suite runs in parallel (pytest-xdist, one worker per core), so every worker and every process a test
# starts keeps to one torch thread: two workers with two threads each would contend for two cores, and the
# learning tests' thresholds were measured with one thread.
os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np
import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnv, IdentityEnvBox, IdentityEnvMultiBinary, IdentityEnvMultiDiscrete

from sb3_distill import PPD, StudentDistill, TeacherDistill

th.set_num_threads(1)

#: Modules whose tests take tens of seconds to minutes (learning tests, killed and resumed grids, Ray clusters).
LONG_MODULES = {
    "test_bench_kill.py",
    "test_learning.py",
    "test_ray_cluster.py",
    "test_recurrent_students.py",
    "test_recurrent_teachers.py",
    "test_runs.py",
    "test_teacher_normalization.py",
    "test_teacher_views.py",
    "test_zoo_layout.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long tests first: pytest-xdist hands tests out in this order, so the short ones fill the workers' gaps at
    the end instead of one worker finishing a minute-long test while the other waits."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") or item.path.name in LONG_MODULES else 1)


ALGORITHMS = [PPD, StudentDistill, TeacherDistill]

IDENTITY_ENVS = {
    "discrete": lambda: IdentityEnv(4),
    "box": lambda: IdentityEnvBox(eps=0.5),
    "multidiscrete": lambda: IdentityEnvMultiDiscrete(3),
    "multibinary": lambda: IdentityEnvMultiBinary(3),
}


def identity_vec_env(kind: str, n_envs: int = 4, seed: int = 0):
    return make_vec_env(IDENTITY_ENVS[kind], n_envs=n_envs, seed=seed)


@pytest.fixture(scope="session")
def identity_teachers(tmp_path_factory) -> dict[str, str]:
    """A PPO teacher per identity action space, trained a little, saved as .zip; name -> path."""
    folder = tmp_path_factory.mktemp("identity_teachers")
    paths = {}
    for kind in IDENTITY_ENVS:
        teacher = PPO(
            "MlpPolicy",
            identity_vec_env(kind),
            n_steps=64,
            batch_size=64,
            learning_rate=3e-3,
            seed=0,
            policy_kwargs={"net_arch": [32]},
        )
        teacher.learn(3000)
        path = os.path.join(folder, f"{kind}.zip")
        teacher.save(path)
        paths[kind] = path
    return paths


def mean_teacher_kl(model, observations: np.ndarray) -> float:
    """Mean KL between a model's teacher and itself (in the model's kl_mode) on a batch of observations."""
    from sb3_distill.common.action_params import action_params
    from sb3_distill.common.losses import distillation_kl

    teacher = model.teacher
    teacher_params, _ = teacher.label(observations)
    with th.no_grad():
        student_params = action_params(model.policy.get_distribution(model.policy.obs_to_tensor(observations)[0]))
    return float(distillation_kl(teacher_params, student_params, model._action_param_spec, model.kl_mode).mean())
