"""The teacher sees raw observations normalised with its own frozen statistics, whatever the student's."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill import PPD, ObservationNormalizer, load_teacher
from sb3_distill.common.teacher_sources import find_vecnormalize


def vec_normalize_with(mean, var, env=None) -> VecNormalize:
    env = env or make_vec_env("CartPole-v1", n_envs=2, seed=0)
    normalize = VecNormalize(env, training=False, norm_reward=False, clip_obs=1e6)
    normalize.obs_rms.mean = np.asarray(mean, dtype=np.float64)
    normalize.obs_rms.var = np.asarray(var, dtype=np.float64)
    return normalize


def test_normalizer_matches_vec_normalize_and_is_frozen():
    source = VecNormalize(make_vec_env("CartPole-v1", n_envs=2, seed=0), clip_obs=3.0)
    source.reset()
    for _ in range(50):
        source.step(np.array([0, 1]))
    normalizer = ObservationNormalizer.from_vec_normalize(source)
    obs = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32) * 3
    np.testing.assert_allclose(normalizer(obs), source.normalize_obs(obs), rtol=1e-5, atol=1e-6)
    for _ in range(50):  # the source keeps learning; the teacher's copy does not
        source.step(np.array([1, 1]))
    assert not np.allclose(normalizer(obs), source.normalize_obs(obs))
    reward_only = VecNormalize(make_vec_env("CartPole-v1"), norm_obs=False)  # e.g. Atari: the policy saw raw observations
    assert ObservationNormalizer.from_vec_normalize(reward_only).is_identity


@pytest.mark.parametrize("layout", ["beside", "vec_normalize", "zoo"])
def test_statistics_found_beside_the_teacher_zip(tmp_path, layout):
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=32)
    model.save(tmp_path / "CartPole-v1.zip")
    stats = vec_normalize_with([1, 2, 3, 4], [4, 4, 4, 4])
    target = {
        "beside": tmp_path / "vecnormalize.pkl",
        "vec_normalize": tmp_path / "vec_normalize.pkl",
        "zoo": tmp_path / "CartPole-v1" / "vecnormalize.pkl",
    }[layout]
    os.makedirs(target.parent, exist_ok=True)
    stats.save(str(target))
    assert find_vecnormalize(str(tmp_path / "CartPole-v1.zip")) == str(target)
    teacher = load_teacher(str(tmp_path / "CartPole-v1.zip"))
    assert teacher.obs_normalizer is not None
    np.testing.assert_allclose(teacher.obs_normalizer(np.ones((1, 4), np.float32)), [[0.0, -0.5, -1.0, -1.5]], atol=1e-4)


def test_which_observations_the_teacher_sees(tmp_path):
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=32)
    model.save(tmp_path / "teacher.zip")
    # a file with no statistics beside it was trained on raw observations
    assert load_teacher(str(tmp_path / "teacher.zip")).obs_normalizer.is_identity
    assert load_teacher(model, teacher_vecnormalize=False).obs_normalizer.is_identity
    # an object without statistics sees the student's observations (the reference implementation's behaviour)
    assert load_teacher(model).obs_normalizer is None
    stats = vec_normalize_with([0, 0, 0, 0], [1, 1, 1, 1])
    stats.save(str(tmp_path / "stats.pkl"))
    assert load_teacher(model, teacher_vecnormalize=str(tmp_path / "stats.pkl")).obs_normalizer is not None
    assert load_teacher(model, teacher_vecnormalize=stats).obs_normalizer is not None
    with pytest.raises(TypeError, match="teacher_vecnormalize"):
        load_teacher(model, teacher_vecnormalize=True)


def test_bad_statistics_file_is_named(tmp_path):
    (tmp_path / "stats.pkl").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"stats.pkl"):
        ObservationNormalizer.load(tmp_path / "stats.pkl")
    with pytest.raises(FileNotFoundError, match=r"missing.pkl"):
        ObservationNormalizer.load(tmp_path / "missing.pkl")


@pytest.mark.parametrize("student_normalizes", [False, True])
def test_labels_use_raw_observations_and_teacher_statistics(student_normalizes):
    """Labels stored with the rollout equal the teacher on raw observations under its own statistics."""
    teacher_model = PPO("MlpPolicy", "CartPole-v1", n_steps=32, seed=0)
    teacher_stats = vec_normalize_with([0.5, -0.2, 0.1, 0.3], [0.04, 0.25, 0.01, 0.36])
    env = make_vec_env("CartPole-v1", n_envs=2, seed=1)
    student_stats = vec_normalize_with([-1.0, 0.0, 1.0, 0.0], [9.0, 1.0, 4.0, 2.0], env) if student_normalizes else None
    student = PPD("MlpPolicy", student_stats or env, n_steps=16, batch_size=32, n_epochs=1, seed=0)
    student.set_teacher(teacher_model, teacher_vecnormalize=teacher_stats)
    student.learn(32)
    buffer = student.rollout_buffer
    raw = student_stats.unnormalize_obs(buffer.observations) if student_normalizes else buffer.observations
    expected, _ = load_teacher(teacher_model, teacher_vecnormalize=teacher_stats).label(raw)
    np.testing.assert_allclose(buffer.teacher_params, expected.numpy(), atol=1e-5)
    # a teacher trained on raw observations sees them raw
    student.set_teacher(teacher_model, teacher_vecnormalize=False)
    student.learn(32)
    buffer = student.rollout_buffer
    raw = student_stats.unnormalize_obs(buffer.observations) if student_normalizes else buffer.observations
    np.testing.assert_allclose(buffer.teacher_params, load_teacher(teacher_model).label(raw)[0].numpy(), atol=1e-5)
    # an in-memory teacher without statistics sees what the student sees
    student.set_teacher(teacher_model)
    student.learn(32)
    expected_plain, _ = load_teacher(teacher_model).label(student.rollout_buffer.observations)
    np.testing.assert_allclose(student.rollout_buffer.teacher_params, expected_plain.numpy(), atol=1e-5)
    if student_normalizes:  # and that differs from what the teacher would say on raw observations
        raw_now = student_stats.unnormalize_obs(student.rollout_buffer.observations)
        on_raw, _ = load_teacher(teacher_model).label(raw_now)
        assert not np.allclose(student.rollout_buffer.teacher_params, on_raw.numpy(), atol=1e-3)


@pytest.fixture(scope="module")
def normalized_cartpole_teacher(tmp_path_factory) -> str:
    """PPO trained behind VecNormalize(norm_obs=True) on CartPole; zip with vecnormalize.pkl beside it."""
    folder = tmp_path_factory.mktemp("normalized_teacher")
    env = VecNormalize(make_vec_env("CartPole-v1", n_envs=8, seed=0), norm_reward=False)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=256, gamma=0.98, gae_lambda=0.8, learning_rate=1e-3, seed=0)
    model.learn(100_000)
    model.save(folder / "CartPole-v1.zip")
    env.save(str(folder / "vecnormalize.pkl"))
    return str(folder / "CartPole-v1.zip")


@pytest.mark.slow
def test_student_without_normalization_learns_from_normalized_teacher(normalized_cartpole_teacher):
    """With its statistics the teacher teaches a raw-observation student to >= 80% of its return;
    handed the same raw observations without its statistics, the teacher (and so its student) fails."""
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=123)
    teacher = load_teacher(normalized_cartpole_teacher)
    teacher_return, _ = evaluate_policy(teacher, eval_env, 20)
    blind_teacher_return, _ = evaluate_policy(teacher.policy, eval_env, 20)
    assert teacher_return >= 475, teacher_return
    assert blind_teacher_return < 0.5 * teacher_return, "normalisation must matter on this task"

    budget = 50_000
    returns = {}
    for with_statistics in (True, False):
        student = PPD(
            "MlpPolicy",
            make_vec_env("CartPole-v1", n_envs=8, seed=1),
            n_steps=64,
            batch_size=256,
            n_epochs=10,
            gamma=0.999,
            gae_lambda=0.9,
            seed=1,
        )
        student.set_teacher(normalized_cartpole_teacher if with_statistics else teacher.policy)
        assert (student.teacher.obs_normalizer is not None) == with_statistics
        student.learn(budget)
        returns[with_statistics], _ = evaluate_policy(student, eval_env, 20)
    assert returns[True] >= 0.8 * teacher_return, returns
    assert returns[False] < 0.8 * teacher_return, returns


class ChannelLastImages(gym.Env):
    """Random 36x36 RGB frames, channel-last, as Atari frames are: SB3 transposes them for its CNNs."""

    observation_space = gym.spaces.Box(0, 255, (36, 36, 3), np.uint8)
    action_space = gym.spaces.Discrete(3)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


def test_channel_last_raw_observations_reach_the_teacher_transposed(tmp_path):
    """The student runs behind VecNormalize (rewards only, as for Atari) and the teacher has its own
    (identity) statistics, so the teacher labels raw observations; they must be transposed like SB3
    transposes the student's, not reshaped."""

    def env(seed):
        vec = make_vec_env(ChannelLastImages, n_envs=2, seed=seed)
        vec.observation_space.seed(seed)
        return VecNormalize(vec, norm_obs=False, norm_reward=True)

    teacher_env = env(0)
    PPO("CnnPolicy", teacher_env, n_steps=8, batch_size=16, seed=0).save(tmp_path / "teacher.zip")
    teacher_env.save(tmp_path / "vecnormalize.pkl")
    student = PPD("CnnPolicy", env(1), n_steps=8, batch_size=16, n_epochs=1, seed=1)
    student.set_teacher(str(tmp_path / "teacher.zip"))
    assert student.teacher.obs_normalizer.is_identity
    student.learn(16)
    buffer = student.rollout_buffer
    # with norm_obs=False the student's (transposed) observations are the raw ones
    expected, _ = student.teacher.label(buffer.observations.reshape(-1, 3, 36, 36))
    assert np.allclose(buffer.teacher_params.reshape(expected.shape), expected.numpy(), atol=1e-6)
