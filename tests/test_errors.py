"""Bad input is refused with an error that names the problem, before any training step."""

from __future__ import annotations

import zipfile

import gymnasium as gym
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnv, IdentityEnvBox

from sb3_distill import PPD, StudentDistill
from tests.conftest import ALGORITHMS, identity_vec_env


def small(algorithm, env, **kwargs):
    extra = dict(n_steps=32, batch_size=64) if algorithm is PPD else dict(n_steps=8)
    return algorithm("MlpPolicy", env, seed=0, **extra, **kwargs)


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.__name__)
def test_learn_without_teacher_says_to_call_set_teacher(algorithm):
    model = small(algorithm, identity_vec_env("discrete"))
    with pytest.raises(RuntimeError, match=r"set_teacher"):
        model.learn(64)
    assert model.num_timesteps == 0


def test_discrete_action_spaces_differ():
    teacher = PPO("MlpPolicy", make_vec_env(lambda: IdentityEnv(3), n_envs=1), n_steps=32)
    student = small(PPD, make_vec_env(lambda: IdentityEnv(4), n_envs=2))
    # IdentityEnv(n) has Discrete(n) observations too; the action check comes first and names both spaces
    with pytest.raises(ValueError, match=r"action spaces.*teacher Discrete\(3\), student Discrete\(4\)"):
        student.set_teacher(teacher)


def test_box_action_shapes_and_bounds_differ():
    student = small(PPD, make_vec_env(lambda: IdentityEnvBox(low=-1, high=1), n_envs=2))
    wide = PPO("MlpPolicy", make_vec_env(lambda: IdentityEnvBox(low=-2, high=2), n_envs=1), n_steps=32)
    with pytest.raises(ValueError, match=r"teacher Box\(-2.0, 2.0.*student Box\(-1.0, 1.0"):
        student.set_teacher(wide)
    pendulum = PPO("MlpPolicy", "Pendulum-v1", n_steps=32)  # Box(-2, 2, (1,)) too, but a different shape of obs
    with pytest.raises(ValueError, match="action spaces"):
        student.set_teacher(pendulum)


def test_observation_shapes_differ():
    cartpole = PPO("MlpPolicy", "CartPole-v1", n_steps=32)
    acrobot_env = make_vec_env("Acrobot-v1", n_envs=2)  # Discrete(3) actions
    mountain_car = PPO("MlpPolicy", "MountainCar-v0", n_steps=32)  # Discrete(3), obs (2,)
    student = small(StudentDistill, acrobot_env)
    with pytest.raises(ValueError, match=r"observation shapes.*teacher Box.*\(2,\).*student Box.*\(6,\)"):
        student.set_teacher(mountain_car)
    with pytest.raises(ValueError, match=r"teacher Discrete\(2\), student Discrete\(3\)"):
        student.set_teacher(cartpole)


@pytest.mark.parametrize("kl_mode", ["backward", "FORWARD", ""])
def test_invalid_kl_mode(kl_mode, identity_teachers):
    model = small(PPD, identity_vec_env("discrete"))
    with pytest.raises(ValueError, match=f"kl_mode.*{kl_mode!r}"):
        model.set_teacher(identity_teachers["discrete"], kl_mode=kl_mode)
    with pytest.raises(ValueError, match="kl_mode"):
        PPD("MlpPolicy", identity_vec_env("discrete"), kl_mode=kl_mode)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_invalid_lambda(bad, identity_teachers):
    model = small(PPD, identity_vec_env("discrete"))
    with pytest.raises(ValueError, match="distill_lambda"):
        model.set_teacher(identity_teachers["discrete"], distill_lambda=bad)
    with pytest.raises(TypeError, match="distill_lambda"):
        model.set_teacher(identity_teachers["discrete"], distill_lambda="1.0")


def test_lambda_schedule_returning_negative_fails_before_training(identity_teachers):
    model = small(PPD, identity_vec_env("discrete"))
    model.set_teacher(identity_teachers["discrete"], distill_lambda=lambda t: -1.0)
    with pytest.raises(ValueError, match=r"distill_lambda.*-1\.0"):
        model.learn(64)
    assert model.num_timesteps == 0


def test_teacher_file_missing(tmp_path):
    model = small(PPD, identity_vec_env("discrete"))
    missing = tmp_path / "nope.zip"
    with pytest.raises(FileNotFoundError, match=r"nope\.zip"):
        model.set_teacher(str(missing))
    with pytest.raises(FileNotFoundError, match=r"nope\.zip"):
        PPD("MlpPolicy", identity_vec_env("discrete"), teacher=str(missing))


def test_teacher_file_not_a_zip(tmp_path):
    bogus = tmp_path / "teacher.zip"
    bogus.write_text("not a model")
    with pytest.raises(ValueError, match=r"teacher.zip.*not a zip archive"):
        small(PPD, identity_vec_env("discrete")).set_teacher(str(bogus))


def test_teacher_file_a_zip_but_not_sb3(tmp_path):
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match=r"other.zip.*not an SB3 model zip"):
        small(PPD, identity_vec_env("discrete")).set_teacher(str(other))


def test_unsupported_teacher_family_is_named():
    sb3_contrib = pytest.importorskip("sb3_contrib")

    linear = sb3_contrib.ARS("LinearPolicy", "CartPole-v1")  # a policy without an action distribution or critic
    student = small(PPD, make_vec_env("CartPole-v1", n_envs=2))
    with pytest.raises(ValueError, match=r"A ARSLinearPolicy cannot teach: supported teachers are actor-critic.*RecurrentPPO"):
        student.set_teacher(linear)


@pytest.mark.parametrize("policy", ["LinearPolicy", "MlpPolicy"])
def test_an_unsupported_teacher_family_from_a_zip_is_named(tmp_path, policy):
    """An ARS zip is read like any other (its policy takes no learning-rate schedule), then refused by name."""
    sb3_contrib = pytest.importorskip("sb3_contrib")

    sb3_contrib.ARS(policy, "CartPole-v1", seed=0).save(tmp_path / "ars.zip")
    student = small(PPD, make_vec_env("CartPole-v1", n_envs=2))
    with pytest.raises(ValueError, match=r"A ARS(Linear)?Policy cannot teach: supported teachers are actor-critic"):
        student.set_teacher(str(tmp_path / "ars.zip"))


def test_wrong_teacher_type():
    with pytest.raises(TypeError, match="int"):
        small(PPD, identity_vec_env("discrete")).set_teacher(42)


def test_custom_rollout_buffer_is_refused():
    from stable_baselines3.common.buffers import RolloutBuffer

    class MyBuffer(RolloutBuffer):
        pass

    with pytest.raises(ValueError, match="MyBuffer"):
        PPD("MlpPolicy", identity_vec_env("discrete"), rollout_buffer_class=MyBuffer)


def test_squash_mismatch_is_refused():
    env = make_vec_env(lambda: IdentityEnvBox(), n_envs=2)
    squashing = PPO("MlpPolicy", env, use_sde=True, policy_kwargs={"squash_output": True}, n_steps=32)
    student = small(PPD, env)
    with pytest.raises(ValueError, match="squash"):
        student.set_teacher(squashing)


def test_unknown_env_id_in_cli_envs():
    from sb3_distill import envs

    with pytest.raises(ValueError, match="'NoSuchEnv-v0'"):
        envs.make("NoSuchEnv-v0")
    assert "CartPole-v1" in gym.registry
