"""A function as the teacher (``CallableTeacher``): a scripted controller distilled into a PPD student."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnvBox
from stable_baselines3.common.evaluation import evaluate_policy

from sb3_distill import PPD, CallableTeacher, StudentDistill, TeacherDistill, load_teacher

#: A linear controller of CartPole-v1's state (cart position and velocity, pole angle and angular velocity):
#: push right when the pole falls right. Measured: 500.0 (the maximum) on seeds 0-19.
GAINS = np.array([0.5, 1.0, 10.0, 3.0])


def balance(obs: np.ndarray) -> np.ndarray:
    return (obs @ GAINS > 0).astype(np.int64)


def cartpole_teacher() -> CallableTeacher:
    env = make_vec_env("CartPole-v1", 1)
    return CallableTeacher(balance, env.observation_space, env.action_space)


def test_discrete_labels_are_certain_of_the_functions_action():
    teacher = cartpole_teacher()
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    labels, values = teacher.label(obs)
    assert values is None
    np.testing.assert_array_equal(labels.argmax(1).numpy(), balance(obs))
    assert (labels.max(1).values > -1e-8).all()  # log-probability of the function's action: log(1 - 2e-9)


def test_box_labels_are_the_functions_actions_in_scaled_units():
    space = spaces.Box(-2.0, 4.0, (2,), np.float32)
    teacher = CallableTeacher(lambda obs: np.tile([-2.0, 1.0], (len(obs), 1)), space, space)
    labels, _ = teacher.label(np.zeros((3, 2), dtype=np.float32))
    np.testing.assert_allclose(labels.numpy(), np.tile([-1.0, 0.0], (3, 1)))  # -2 -> -1, 1 -> 0 on [-2, 4]


def test_a_ppd_student_learns_the_scripted_controller():
    """20k steps of PPD: the student balances as the controller does (measured: 500.0 over 10 episodes; the same
    run with λ = 0, PPO alone, 417.1)."""
    teacher = cartpole_teacher()
    env = make_vec_env("CartPole-v1", 8, seed=0)
    model = PPD("MlpPolicy", env, teacher=teacher, n_steps=64, batch_size=256, seed=0, device="cpu")
    model.learn(20_000)
    teacher_return, _ = evaluate_policy(teacher, make_vec_env("CartPole-v1", 1, seed=100), n_eval_episodes=10)
    student_return, _ = evaluate_policy(model, make_vec_env("CartPole-v1", 1, seed=100), n_eval_episodes=10)
    assert teacher_return == 500.0
    assert student_return >= 0.9 * teacher_return, student_return


def test_a_ppd_student_matches_a_continuous_function():
    """IdentityEnvBox: the right action is the observation; the function knows it, and the student's mean action
    comes within 0.1 of it after 8k steps (measured: 0.015 off on average; with λ = 0, PPO alone, 0.757)."""
    env = make_vec_env(lambda: IdentityEnvBox(eps=0.5), 4, seed=0)
    teacher = CallableTeacher(lambda obs: np.asarray(obs), env.observation_space, env.action_space, name="identity")
    model = PPD("MlpPolicy", env, teacher=teacher, n_steps=64, batch_size=64, seed=0, device="cpu")
    model.learn(8192)
    obs = np.linspace(-0.9, 0.9, 19, dtype=np.float32).reshape(-1, 1)
    with th.no_grad():
        mean = model.policy.get_distribution(th.as_tensor(obs)).distribution.mean.numpy()
    assert np.abs(mean - obs).mean() < 0.1, np.abs(mean - obs).mean()


def test_what_a_function_cannot_teach_is_refused():
    teacher = cartpole_teacher()
    env = make_vec_env("CartPole-v1", 2)
    for algorithm in (StudentDistill, TeacherDistill):
        with pytest.raises(ValueError, match="regresses the teacher's value, and CallableTeacher\\(balance\\) has none"):
            algorithm("MlpPolicy", env, teacher=teacher)
    with pytest.raises(ValueError, match="normalise or stack them inside its function"):
        load_teacher(teacher, teacher_vecnormalize=False)
    with pytest.raises(ValueError, match="Box with finite bounds"):
        CallableTeacher(balance, env.observation_space, spaces.Box(-np.inf, np.inf, (1,)))
    broken = CallableTeacher(lambda obs: np.zeros((len(obs), 2)), env.observation_space, env.action_space, name="broken")
    with pytest.raises(ValueError, match=r"returned actions of shape \(3, 2\) for 3 observations; expected \(3,\)"):
        broken.label(np.zeros((3, 4), dtype=np.float32))
