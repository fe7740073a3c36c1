"""The distillation-loss menu: generalised JSD and teacher-mode NLL, and their use by every algorithm."""

from __future__ import annotations

import math

import pytest
import torch as th
from gymnasium import spaces
from torch.distributions import Bernoulli, Categorical, Normal

from sb3_distill import PPD
from sb3_distill.common.action_params import ActionParamSpec
from sb3_distill.common.losses import distillation_loss, generalized_jsd, kl_divergence, teacher_mode_nll
from tests.conftest import ALGORITHMS, identity_vec_env, mean_teacher_kl
from tests.test_algorithms import SMALL, sample_observations

BATCH = 32
SPACES = {
    "discrete": spaces.Discrete(4),
    "multidiscrete": spaces.MultiDiscrete([2, 3]),
    "multibinary": spaces.MultiBinary(3),
    "box": spaces.Box(-1, 1, (2,)),
}


def random_params(spec: ActionParamSpec) -> th.Tensor:
    params = th.randn(BATCH, spec.n_params)
    if spec.family in ("categorical", "multi_categorical"):
        params = th.cat([th.log_softmax(p, 1) for p in th.split(params, list(spec.action_dims), 1)], 1)
    return params


@pytest.fixture(autouse=True)
def _seed():
    th.manual_seed(0)


def jsd_by_hand(p: th.Tensor, q: th.Tensor, beta: float) -> th.Tensor:
    """GKD's generalised JSD of two categorical rows of probabilities."""
    m = beta * p + (1 - beta) * q
    return beta * (p * (p / m).log()).sum(-1) + (1 - beta) * (q * (q / m).log()).sum(-1)


@pytest.mark.parametrize("beta", [0.1, 0.5, 0.9])
def test_categorical_jsd_by_hand(beta):
    spec = ActionParamSpec.for_action_space(SPACES["discrete"])
    t, s = random_params(spec), random_params(spec)
    th.testing.assert_close(generalized_jsd(t, s, spec, beta), jsd_by_hand(t.exp(), s.exp(), beta), atol=1e-5, rtol=1e-5)


def test_bernoulli_and_multicategorical_jsd_sum_over_factors():
    beta = 0.3
    spec = ActionParamSpec.for_action_space(SPACES["multibinary"])
    t, s = random_params(spec), random_params(spec)
    p_t, p_s = th.sigmoid(t), th.sigmoid(s)
    per_bit = jsd_by_hand(th.stack([1 - p_t, p_t], -1), th.stack([1 - p_s, p_s], -1), beta)
    th.testing.assert_close(generalized_jsd(t, s, spec, beta), per_bit.sum(1), atol=1e-5, rtol=1e-5)
    spec_m = ActionParamSpec.for_action_space(SPACES["multidiscrete"])
    t, s = random_params(spec_m), random_params(spec_m)
    parts = [jsd_by_hand(a.exp(), b.exp(), beta) for a, b in zip(th.split(t, [2, 3], 1), th.split(s, [2, 3], 1), strict=True)]
    th.testing.assert_close(generalized_jsd(t, s, spec_m, beta), parts[0] + parts[1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", sorted(SPACES))
def test_jsd_endpoints_are_the_kls_and_it_is_bounded(kind):
    spec = ActionParamSpec.for_action_space(SPACES[kind])
    t, s = random_params(spec), random_params(spec)
    th.testing.assert_close(generalized_jsd(t, s, spec, 0.0), kl_divergence(t, s, spec))
    th.testing.assert_close(generalized_jsd(t, s, spec, 1.0), kl_divergence(s, t, spec))
    jsd = generalized_jsd(t, s, spec, 0.5)
    n_factors = {"discrete": 1, "multidiscrete": 2, "multibinary": 3, "box": 1}[kind]
    assert (jsd >= -0.05).all() and (jsd <= n_factors * math.log(2) + 0.05).all()  # JSD_0.5 <= log 2 per factor
    assert generalized_jsd(t, t, spec, 0.5).abs().max() < (0.05 if kind == "box" else 1e-5)


def test_gaussian_jsd_monte_carlo_matches_a_precise_estimate():
    spec = ActionParamSpec.for_action_space(SPACES["box"])
    t, s = th.tensor([[0.0, 0.5, -0.5, 0.0]]), th.tensor([[1.0, -0.5, 0.0, -0.3]])
    estimate = th.stack([generalized_jsd(t, s, spec, 0.5) for _ in range(400)]).mean()
    # a 200k-sample estimate of the same quantity
    mean_t, std_t = t[0, :2], t[0, 2:].exp()
    mean_s, std_s = s[0, :2], s[0, 2:].exp()
    n_t, n_s = Normal(mean_t, std_t), Normal(mean_s, std_s)

    def kl_to_mixture(first):
        x = first.sample((200_000,))
        log_m = th.logsumexp(th.stack([n_t.log_prob(x).sum(-1), n_s.log_prob(x).sum(-1)]) + math.log(0.5), 0)
        return (first.log_prob(x).sum(-1) - log_m).mean()

    precise = 0.5 * kl_to_mixture(n_t) + 0.5 * kl_to_mixture(n_s)
    assert abs(estimate.item() - precise.item()) < 0.01


def test_nll_of_the_teachers_mode():
    spec = ActionParamSpec.for_action_space(SPACES["discrete"])
    t, s = random_params(spec), random_params(spec)
    th.testing.assert_close(teacher_mode_nll(t, s, spec), -Categorical(logits=s).log_prob(t.argmax(1)))
    spec_b = ActionParamSpec.for_action_space(SPACES["multibinary"])
    t, s = random_params(spec_b), random_params(spec_b)
    th.testing.assert_close(teacher_mode_nll(t, s, spec_b), -Bernoulli(logits=s).log_prob((t > 0).float()).sum(1))
    spec_g = ActionParamSpec.for_action_space(SPACES["box"])
    t, s = random_params(spec_g), random_params(spec_g)
    expected = -Normal(s[:, :2], s[:, 2:].exp()).log_prob(t[:, :2]).sum(1)
    th.testing.assert_close(teacher_mode_nll(t, s, spec_g), expected, atol=1e-5, rtol=1e-5)


def test_unknown_loss_is_named():
    spec = ActionParamSpec.for_action_space(SPACES["discrete"])
    with pytest.raises(ValueError, match="'l2'"):
        distillation_loss("l2", th.zeros(1, 4), th.zeros(1, 4), spec)


@pytest.mark.parametrize("loss", ["jsd", "nll", "reverse_kl"])
@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: a.__name__)
def test_every_algorithm_learns_with_every_loss(algorithm, loss, identity_teachers):
    model = algorithm(
        "MlpPolicy",
        identity_vec_env("discrete"),
        seed=1,
        policy_kwargs={"net_arch": [32]},
        distill_loss=loss,
        **SMALL[algorithm],
    )
    model.set_teacher(identity_teachers["discrete"], distill_loss=loss)
    observations = sample_observations("discrete")
    before = mean_teacher_kl(model, observations)
    model.learn(2000)
    assert mean_teacher_kl(model, observations) < 0.5 * before, loss


@pytest.mark.parametrize("kind", ["box", "multibinary"])
def test_jsd_learns_on_other_spaces(kind, identity_teachers):
    model = PPD("MlpPolicy", identity_vec_env(kind), seed=1, policy_kwargs={"net_arch": [32]}, **SMALL[PPD])
    model.set_teacher(identity_teachers[kind], distill_loss="jsd", jsd_beta=0.5)
    observations = sample_observations(kind)
    before = mean_teacher_kl(model, observations)
    model.learn(2000)
    assert mean_teacher_kl(model, observations) < 0.5 * before


def test_loss_arguments_are_checked(identity_teachers):
    model = PPD("MlpPolicy", identity_vec_env("discrete"), **SMALL[PPD])
    with pytest.raises(ValueError, match=r"distill_loss.*'mse2'"):
        model.set_teacher(identity_teachers["discrete"], distill_loss="mse2")
    with pytest.raises(ValueError, match="contradicts"):
        model.set_teacher(identity_teachers["discrete"], kl_mode="reverse", distill_loss="forward_kl")
    with pytest.raises(ValueError, match="jsd_beta"):
        model.set_teacher(identity_teachers["discrete"], distill_loss="jsd", jsd_beta=1.5)
    model.set_teacher(identity_teachers["discrete"], distill_loss="reverse_kl")
    assert model.kl_mode == "reverse"
