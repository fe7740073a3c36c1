"""Every suite behind envs.make: the paper's wrappers and normalisation; each test skips when its extra is missing."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.atari_wrappers import ClipRewardEnv, EpisodicLifeEnv
from stable_baselines3.common.vec_env import VecFrameStack, VecNormalize

from sb3_distill import envs
from sb3_distill.envs.atari import human_normalized_score


@pytest.mark.parametrize(
    "env_id, suite",
    [
        ("CartPole-v1", "classic"),
        ("LunarLander-v3", "classic"),
        ("HalfCheetah-v5", "mujoco"),
        ("Hopper-v4", "mujoco"),
        ("PongNoFrameskip-v4", "atari"),
        ("ALE/Pong-v5", "atari"),
        ("MinAtar/Breakout-v1", "minatar"),
        ("CoinrunEasy-v0", "procgen"),
        ("MinerHard-v0", "procgen"),
    ],
)
def test_suite_of(env_id, suite):
    assert envs.suite_of(env_id).name == suite


def test_classic_has_no_normalisation_unless_asked():
    assert not isinstance(envs.make("CartPole-v1", 2, seed=0), VecNormalize)
    asked = envs.make("CartPole-v1", 2, seed=0, normalize=True)
    assert isinstance(asked, VecNormalize) and asked.norm_obs and asked.norm_reward


def test_mujoco_normalises_observations_and_rewards_and_evaluation_freezes_them():
    pytest.importorskip("mujoco")
    env = envs.make("HalfCheetah-v5", 2, seed=0)
    assert isinstance(env, VecNormalize) and env.norm_obs and env.norm_reward and env.training
    env.reset()
    for _ in range(20):
        env.step(np.stack([env.action_space.sample() for _ in range(2)]))
    evaluation = envs.frozen_copy(envs.make("HalfCheetah-v5", 1, seed=1, normalize=False, training=False), env)
    assert isinstance(evaluation, VecNormalize)
    assert not evaluation.training and not evaluation.norm_reward
    np.testing.assert_array_equal(evaluation.obs_rms.mean, env.obs_rms.mean)
    evaluation.reset()
    evaluation.step(np.zeros((1, 6), dtype=np.float32))
    np.testing.assert_array_equal(evaluation.obs_rms.mean, env.obs_rms.mean)  # frozen


def _wrappers(env) -> list[type]:
    chain, inner = [], env
    while hasattr(inner, "env"):
        chain.append(type(inner))
        inner = inner.env
    return chain


def test_atari_uses_the_papers_wrappers():
    pytest.importorskip("ale_py")
    training = envs.make("PongNoFrameskip-v4", 2, seed=0)
    assert isinstance(training, VecNormalize) and not training.norm_obs and training.norm_reward
    assert isinstance(training.venv, VecFrameStack)
    assert training.observation_space.shape == (84, 84, 4) and training.observation_space.dtype == np.uint8
    chain = _wrappers(training.venv.venv.envs[0])
    assert EpisodicLifeEnv in chain and ClipRewardEnv not in chain
    evaluation = envs.make("PongNoFrameskip-v4", 1, seed=0, normalize=False, training=False)
    chain = _wrappers(evaluation.venv.envs[0])
    assert EpisodicLifeEnv not in chain and ClipRewardEnv not in chain  # full games, raw scores


def test_human_normalised_scores():
    assert human_normalized_score("PongNoFrameskip-v4", -20.7) == pytest.approx(0.0)
    assert human_normalized_score("PongNoFrameskip-v4", 14.6) == pytest.approx(1.0)
    assert human_normalized_score("ALE/Seaquest-v5", (68.4 + 42054.7) / 2) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"'Tetris'.*known games"):
        human_normalized_score("TetrisNoFrameskip-v4", 1.0)


def test_minatar_grids_are_channel_first_floats_and_fit_its_cnn():
    pytest.importorskip("minatar")
    from sb3_distill.networks import MinAtarCNN

    env = envs.make("MinAtar/Breakout-v1", 2, seed=0, normalize=False)
    observations = env.reset()
    assert observations.shape == (2, 4, 10, 10) and observations.dtype == np.float32
    assert set(np.unique(observations)) <= {0.0, 1.0}
    cnn = MinAtarCNN(env.observation_space)
    assert cnn(th.as_tensor(observations)).shape == (2, 128)


def test_procgen_trains_on_200_levels_tests_on_unseen_ones_and_wastes_no_step():
    pytest.importorskip("envpool")
    rng = np.random.default_rng(0)
    for training in (True, False):
        try:
            env = envs.make("CoinrunEasy-v0", 4, seed=0, normalize=False, training=training)
        except ImportError as error:  # the system Qt5 runtime is missing
            pytest.skip(str(error))
        env.reset()
        levels, lengths, steps_since_reset = set(), [], np.zeros(4, dtype=int)
        for _ in range(1500):
            _, _, dones, infos = env.step(rng.integers(0, 15, size=4))
            steps_since_reset += 1
            levels |= {info["level_seed"] for info in infos}
            for index in np.flatnonzero(dones):
                assert infos[index]["terminal_observation"].shape == (3, 64, 64)
                # VecMonitor's length is every step since the last reset: envpool's ignored reset step is gone
                assert infos[index]["episode"]["l"] == steps_since_reset[index]
                lengths.append(steps_since_reset[index])
                steps_since_reset[index] = 0
        assert lengths, "no episode finished"
        if training:
            assert max(levels) < 200
        else:
            assert min(levels) >= 200
