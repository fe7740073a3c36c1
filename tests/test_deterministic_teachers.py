"""SAC, TD3, DDPG and TQC teachers: deterministic-action labels, Q(s, μ(s)) values, action-matching losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import DDPG, PPO, SAC, TD3
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnvBox

from sb3_distill import PPD, StudentDistill, TeacherDistill, load_teacher
from sb3_distill.common.action_params import DETERMINISTIC, GAUSSIAN, ActionParamSpec, ActionUnits
from sb3_distill.common.losses import action_matching_loss
from tests.conftest import ALGORITHMS

OFF_POLICY = [SAC, TD3, DDPG]
try:
    from sb3_contrib import TQC

    OFF_POLICY.append(TQC)
except ImportError:  # the [contrib] extra
    pass

SMALL = {
    PPD: dict(n_steps=32, batch_size=64, n_epochs=4, learning_rate=3e-3),
    StudentDistill: dict(n_steps=8, learning_rate=3e-3),
    TeacherDistill: dict(n_steps=8, learning_rate=3e-3),
}


def pendulum_observations(n: int = 64) -> np.ndarray:
    space = make_vec_env("Pendulum-v1", n_envs=1).observation_space
    space.seed(0)
    return np.stack([space.sample() for _ in range(n)])


def untrained(algorithm, env_id: str = "Pendulum-v1"):
    return algorithm("MlpPolicy", env_id, buffer_size=100, learning_starts=0, seed=0, policy_kwargs={"net_arch": [32]})


@pytest.mark.parametrize("algorithm", OFF_POLICY, ids=lambda a: a.__name__)
def test_labels_are_the_deterministic_action_and_values_q_of_it(algorithm, tmp_path):
    model = untrained(algorithm)
    model.save(tmp_path / "teacher.zip")
    teacher = load_teacher(str(tmp_path / "teacher.zip"))  # the safe loader, from the file
    assert teacher.spec == ActionParamSpec(DETERMINISTIC, (1,))

    observations = pendulum_observations()
    labels, values = teacher.label(observations, with_values=True)
    obs = th.as_tensor(observations)
    with th.no_grad():
        expected = model.policy._predict(obs, deterministic=True)
        q = model.policy.critic(obs, expected)
        expected_values = q.flatten(start_dim=1).mean(dim=1) if isinstance(q, th.Tensor) else th.cat(q, dim=1).mean(dim=1)
    assert th.allclose(labels, expected, atol=1e-6)
    assert labels.abs().max() <= 1.0  # [-1, 1]-scaled units, whatever Pendulum's bounds (±2)
    assert th.allclose(values, expected_values, atol=1e-5)
    # predict (for evaluation) gives the environment's units
    actions, _ = teacher.predict(observations, deterministic=True)
    assert np.allclose(actions, 2.0 * expected.numpy(), atol=1e-5)


def test_unit_actions_rescale_a_gaussian_mean_like_sb3():
    space = spaces.Box(low=np.array([-2.0, 0.0], dtype=np.float32), high=np.array([2.0, 10.0], dtype=np.float32))
    spec = ActionParamSpec(GAUSSIAN, (2,))
    params = th.tensor([[1.0, 7.5, 0.0, 0.0], [-2.0, 0.0, 0.0, 0.0]])
    assert th.allclose(ActionUnits(space)(params, spec, squashed=False), th.tensor([[0.5, 0.5], [-1.0, -1.0]]))
    assert th.allclose(ActionUnits(space)(params, spec, squashed=True), th.tanh(params[:, :2]))
    unbounded = spaces.Box(low=-np.inf, high=np.inf, shape=(2,), dtype=np.float32)
    assert th.equal(ActionUnits(unbounded)(params, spec, squashed=False), params[:, :2])


def test_action_matching_losses():
    teacher = th.tensor([[0.0, 0.0], [0.0, 0.0]])
    student = th.tensor([[0.5, -0.5], [3.0, 0.0]])
    assert th.allclose(action_matching_loss("mse", teacher, student), th.tensor([0.5, 9.0]))
    # Huber, δ = 1: quadratic (x²/2) inside, linear (|x| - 1/2) outside
    assert th.allclose(action_matching_loss("huber", teacher, student), th.tensor([0.25, 2.5]))


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.__name__)
@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_action_matching_pulls_the_student_mean_to_the_teacher_action(algorithm, loss):
    env = make_vec_env(lambda: IdentityEnvBox(low=-2.0, high=2.0, eps=0.5), n_envs=4, seed=0)
    teacher = TD3("MlpPolicy", env, buffer_size=100, learning_starts=0, seed=0, policy_kwargs={"net_arch": [16]})
    student = algorithm("MlpPolicy", env, seed=1, policy_kwargs={"net_arch": [32]}, **SMALL[algorithm])
    # the untrained teacher's actions are arbitrary, so PPD's reward term pulls elsewhere: a large λ
    student.set_teacher(teacher, distill_loss=loss, distill_lambda=10.0)
    assert student.distill_loss == loss

    space = env.observation_space
    space.seed(0)
    observations = np.stack([space.sample() for _ in range(256)])
    targets, _ = student.teacher.label(observations)

    def gap() -> float:
        with th.no_grad():
            mean = student.policy.get_distribution(student.policy.obs_to_tensor(observations)[0]).distribution.mean
        return float(((mean / 2.0 - targets) ** 2).sum(dim=1).mean())  # Box(-2, 2): unit = mean / 2

    before = gap()
    student.learn(2000)
    after = gap()
    assert before > 0.05
    assert after < 0.2 * before, f"{algorithm.__name__} ({loss}): squared action gap {before:.4f} -> {after:.4f}"
    assert "train/teacher_kl" not in student.logger.name_to_value  # a deterministic teacher has no KL


def test_default_loss_is_mse_and_kl_is_refused_with_the_fix(tmp_path):
    sac = untrained(SAC)
    student = PPD("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=2), n_steps=32, batch_size=64)
    student.set_teacher(sac)
    assert student.distill_loss == "mse"
    for loss in ("forward_kl", "reverse_kl", "jsd", "nll"):
        with pytest.raises(
            ValueError, match=rf"SACPolicy\) has no action distribution.*distill_loss='{loss}'.*'mse' or 'huber'"
        ):
            student.set_teacher(sac, distill_loss=loss)
    # the constructor route resolves the default the same way
    assert (
        PPD("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=2), teacher=sac, n_steps=32, batch_size=64).distill_loss == "mse"
    )


def test_action_matching_needs_continuous_actions():
    teacher = PPO("MlpPolicy", "CartPole-v1", n_steps=32, batch_size=32)
    student = PPD("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2), n_steps=32, batch_size=64)
    with pytest.raises(ValueError, match=r"distill_loss='mse' matches continuous actions.*Discrete\(2\)"):
        student.set_teacher(teacher, distill_loss="mse")


@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_gaussian_teacher_can_be_matched_by_its_mean(identity_teachers, loss):
    env = make_vec_env(lambda: IdentityEnvBox(eps=0.5), n_envs=4, seed=0)
    student = PPD("MlpPolicy", env, seed=1, policy_kwargs={"net_arch": [32]}, **SMALL[PPD])
    student.set_teacher(identity_teachers["box"], distill_loss=loss)
    space = env.observation_space
    space.seed(0)
    observations = th.as_tensor(np.stack([space.sample() for _ in range(256)]))

    def gap() -> float:
        with th.no_grad():
            teacher_mean = student.teacher.policy.get_distribution(observations).distribution.mean
            student_mean = student.policy.get_distribution(observations).distribution.mean
        return float((teacher_mean - student_mean).pow(2).mean())

    before = gap()
    student.learn(2000)
    assert gap() < 0.5 * before
    assert "train/teacher_kl" in student.logger.name_to_value  # a Gaussian teacher still has a KL to log


@pytest.mark.parametrize("algorithm", [TD3, SAC], ids=lambda a: a.__name__)
def test_teacher_acts_in_environment_units(algorithm):
    """teacher-distill steps the environment with the teacher's actions, unscaled from [-1, 1] to Pendulum's ±2."""
    teacher = untrained(algorithm)
    student = TeacherDistill("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=2, seed=0), n_steps=16, seed=0)
    student.set_teacher(teacher)
    student.learn(32)
    buffer = student.rollout_buffer
    actions = buffer.actions.reshape(-1, 1)
    labels = buffer.teacher_params.reshape(-1, 1)
    assert np.abs(actions).max() <= 2.0
    if algorithm is TD3:  # exploration noise N(0, 0.1²) on the label, in [-1, 1] units, clipped to the bounds
        noise = (actions / 2.0 - labels)[np.abs(labels + (actions / 2.0 - labels)) < 0.999]  # not clipped
        assert len(noise) > 24 and 0.06 < noise.std() < 0.14 and abs(noise.mean()) < 0.05  # 32 draws of σ = 0.1
    else:  # SAC samples around its deterministic action
        assert np.abs(actions).max() > 1.0 or not np.allclose(actions, 2.0 * labels, atol=1e-3)


def test_a_td3_teacher_without_action_noise_acts_with_its_label():
    student = TeacherDistill("MlpPolicy", make_vec_env("Pendulum-v1", n_envs=2, seed=0), n_steps=16, seed=0)
    student.set_teacher(untrained(TD3))
    student.teacher.action_noise = 0.0
    student.learn(32)
    buffer = student.rollout_buffer
    assert np.allclose(buffer.actions.reshape(-1, 1), 2.0 * buffer.teacher_params.reshape(-1, 1), atol=1e-5)
