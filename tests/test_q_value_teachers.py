"""DQN and QR-DQN teachers: softmax(Q / τ) as their policy, Σ π Q as their value."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from stable_baselines3 import DQN
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnv

from sb3_distill import PPD, QValueTeacher, load_teacher
from tests.conftest import ALGORITHMS, mean_teacher_kl

OBSERVATIONS = np.arange(4)


@pytest.fixture(scope="module")
def dqn_identity(tmp_path_factory):
    env = make_vec_env(lambda: IdentityEnv(4), n_envs=1, seed=0)
    model = DQN(
        "MlpPolicy",
        env,
        learning_starts=100,
        buffer_size=2000,
        exploration_fraction=0.3,
        learning_rate=3e-3,
        train_freq=1,
        target_update_interval=100,
        policy_kwargs={"net_arch": [32]},
        seed=0,
    )
    model.learn(2000)
    path = tmp_path_factory.mktemp("dqn") / "dqn.zip"
    model.save(path)
    return model, str(path)


@pytest.mark.parametrize("temperature", [0.01, 0.5, 3.0])
def test_labels_are_tempered_softmax_of_q_and_value_is_expected_q(dqn_identity, temperature):
    model, path = dqn_identity
    teacher = load_teacher(path, temperature=temperature)
    assert isinstance(teacher, QValueTeacher) and teacher.temperature == temperature
    with th.no_grad():
        q = model.q_net(th.as_tensor(OBSERVATIONS))
    log_pi, values = teacher.label(OBSERVATIONS, with_values=True)
    np.testing.assert_allclose(log_pi.exp().sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(log_pi, th.log_softmax(q / temperature, dim=1), atol=1e-5)
    np.testing.assert_allclose(values, (th.softmax(q / temperature, dim=1) * q).sum(1), atol=1e-5)
    # the most probable action is DQN's greedy action, at any temperature
    np.testing.assert_array_equal(log_pi.argmax(1).numpy(), model.predict(np.arange(4), deterministic=True)[0])


def test_low_temperature_approaches_the_greedy_policy(dqn_identity):
    _, path = dqn_identity
    cold = load_teacher(path, temperature=1e-4).label(OBSERVATIONS)[0].exp()
    assert (cold.max(dim=1).values > 0.99).all()


def test_qrdqn_uses_the_mean_of_its_quantiles(tmp_path):
    sb3_contrib = pytest.importorskip("sb3_contrib")
    model = sb3_contrib.QRDQN(
        "MlpPolicy",
        make_vec_env(lambda: IdentityEnv(4), n_envs=1),
        learning_starts=10,
        policy_kwargs={"net_arch": [16], "n_quantiles": 5},
        seed=0,
    )
    model.learn(64)
    model.save(tmp_path / "qrdqn.zip")
    teacher = load_teacher(str(tmp_path / "qrdqn.zip"), temperature=0.1)
    with th.no_grad():
        q = model.policy.quantile_net(th.as_tensor(OBSERVATIONS)).mean(dim=1)
    np.testing.assert_allclose(teacher.label(OBSERVATIONS)[0], th.log_softmax(q / 0.1, dim=1), atol=1e-5)


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.__name__)
def test_every_method_distils_a_dqn_teacher(dqn_identity, algorithm):
    from tests.test_algorithms import SMALL

    _, path = dqn_identity
    student = algorithm(
        "MlpPolicy",
        make_vec_env(lambda: IdentityEnv(4), n_envs=4, seed=1),
        seed=1,
        policy_kwargs={"net_arch": [32]},
        **SMALL[algorithm],
    )
    student.set_teacher(path, temperature=0.5)
    before = mean_teacher_kl(student, OBSERVATIONS)
    student.learn(2000)
    assert mean_teacher_kl(student, OBSERVATIONS) < 0.5 * before


@pytest.mark.parametrize("loss", ["reverse_kl", "jsd", "nll"])
def test_dqn_teacher_with_every_distribution_loss(dqn_identity, loss):
    from tests.test_algorithms import SMALL

    _, path = dqn_identity
    student = PPD(
        "MlpPolicy",
        make_vec_env(lambda: IdentityEnv(4), n_envs=4, seed=1),
        seed=1,
        policy_kwargs={"net_arch": [32]},
        **SMALL[PPD],
    )
    student.set_teacher(path, temperature=0.5, distill_loss=loss)
    # nll fits the teacher's greedy action, not its tempered distribution: measure what each loss optimises
    measure = mean_greedy_nll if loss == "nll" else mean_teacher_kl
    before = measure(student, OBSERVATIONS)
    student.learn(2000)
    assert measure(student, OBSERVATIONS) < 0.5 * before, loss


def mean_greedy_nll(student: PPD, observations: np.ndarray) -> float:
    """-log π_student(the teacher's most probable action), averaged over ``observations``."""
    assert student.teacher is not None
    greedy = student.teacher.label(observations)[0].argmax(1)
    with th.no_grad():
        distribution = student.policy.get_distribution(th.as_tensor(observations))
        return float(-distribution.log_prob(greedy).mean())


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf")])
def test_invalid_temperature_is_named(dqn_identity, bad):
    _, path = dqn_identity
    with pytest.raises(ValueError, match="temperature"):
        load_teacher(path, temperature=bad)
