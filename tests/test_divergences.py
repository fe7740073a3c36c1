"""KL divergences for every SB3 action distribution, both modes, against closed forms and Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import (
    BernoulliDistribution,
    CategoricalDistribution,
    DiagGaussianDistribution,
    MultiCategoricalDistribution,
    StateDependentNoiseDistribution,
)
from torch.distributions import Bernoulli, Categorical, Normal
from torch.distributions import kl_divergence as torch_kl

from sb3_distill.common.action_params import ActionParamSpec, action_params, most_probable_action
from sb3_distill.common.losses import distillation_kl, kl_divergence

BATCH = 64


@pytest.fixture(autouse=True)
def _seed():
    th.manual_seed(0)


def log_probs(logits: th.Tensor, splits: list[int] | None = None) -> th.Tensor:
    """Categorical parameters are normalised log-probabilities (per sub-action)."""
    splits = splits or [logits.shape[1]]
    return th.cat([th.log_softmax(part, dim=1) for part in th.split(logits, splits, dim=1)], dim=1)


def categorical_pair(n=5):
    return log_probs(th.randn(BATCH, n) * 2), log_probs(th.randn(BATCH, n) * 2)


def test_categorical_kl_matches_torch_both_modes():
    p, q = categorical_pair()
    spec = ActionParamSpec.for_action_space(spaces.Discrete(5))
    expected = torch_kl(Categorical(logits=p), Categorical(logits=q))
    assert th.allclose(kl_divergence(p, q, spec), expected, atol=1e-5)
    assert th.allclose(distillation_kl(p, q, spec, "forward"), expected, atol=1e-5)
    assert th.allclose(
        distillation_kl(p, q, spec, "reverse"), torch_kl(Categorical(logits=q), Categorical(logits=p)), atol=1e-5
    )


def test_multicategorical_kl_is_sum_over_subspaces():
    nvec = [3, 4, 2]
    p, q = log_probs(th.randn(BATCH, 9), nvec), log_probs(th.randn(BATCH, 9), nvec)
    spec = ActionParamSpec.for_action_space(spaces.MultiDiscrete(nvec))
    expected = sum(
        torch_kl(Categorical(logits=a), Categorical(logits=b))
        for a, b in zip(th.split(p, nvec, 1), th.split(q, nvec, 1), strict=True)
    )
    assert th.allclose(kl_divergence(p, q, spec), expected, atol=1e-5)


def test_bernoulli_kl_is_summed_not_averaged():
    p, q = th.randn(BATCH, 6) * 3, th.randn(BATCH, 6) * 3
    spec = ActionParamSpec.for_action_space(spaces.MultiBinary(6))
    per_bit = torch_kl(Bernoulli(logits=p), Bernoulli(logits=q))
    assert th.allclose(kl_divergence(p, q, spec), per_bit.sum(dim=1), atol=1e-5)
    assert not th.allclose(kl_divergence(p, q, spec), per_bit.mean(dim=1), atol=1e-3)


def test_bernoulli_kl_monte_carlo():
    p, q = th.tensor([[1.5, -0.5]]), th.tensor([[-1.0, 0.3]])
    spec = ActionParamSpec.for_action_space(spaces.MultiBinary(2))
    samples = Bernoulli(logits=p.expand(400_000, 2)).sample()
    log_ratio = Bernoulli(logits=p).log_prob(samples).sum(1) - Bernoulli(logits=q).log_prob(samples).sum(1)
    assert abs(log_ratio.mean().item() - kl_divergence(p, q, spec).item()) < 0.01


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_gaussian_kl_closed_form_and_monte_carlo(mode):
    d = 3
    mean_p, mean_q = th.randn(BATCH, d), th.randn(BATCH, d)
    log_std_p, log_std_q = th.randn(BATCH, d) * 0.3, th.randn(BATCH, d) * 0.3
    p, q = th.cat([mean_p, log_std_p], 1), th.cat([mean_q, log_std_q], 1)
    spec = ActionParamSpec.for_action_space(spaces.Box(-1, 1, (d,)))
    normal_p, normal_q = Normal(mean_p, log_std_p.exp()), Normal(mean_q, log_std_q.exp())
    first, second = (normal_p, normal_q) if mode == "forward" else (normal_q, normal_p)
    closed = torch_kl(first, second).sum(dim=1)
    ours = distillation_kl(p, q, spec, mode)
    assert th.allclose(ours, closed, atol=1e-5)
    # Monte Carlo on the first row: E_first[log first - log second]
    samples = Normal(first.loc[0], first.scale[0]).sample((400_000,))
    estimate = (
        (Normal(first.loc[0], first.scale[0]).log_prob(samples) - Normal(second.loc[0], second.scale[0]).log_prob(samples))
        .sum(1)
        .mean()
    )
    assert abs(estimate.item() - ours[0].item()) < 0.02 * max(1.0, ours[0].item())


def test_kl_is_zero_for_identical_and_positive_otherwise():
    for space in [spaces.Discrete(4), spaces.MultiDiscrete([2, 3]), spaces.MultiBinary(3), spaces.Box(-1, 1, (2,))]:
        spec = ActionParamSpec.for_action_space(space)
        p, q = th.randn(BATCH, spec.n_params), th.randn(BATCH, spec.n_params)
        if not isinstance(space, (spaces.MultiBinary, spaces.Box)):
            p, q = log_probs(p, list(spec.action_dims)), log_probs(q, list(spec.action_dims))
        assert th.allclose(kl_divergence(p, p, spec), th.zeros(BATCH), atol=1e-6)
        assert (kl_divergence(p, q, spec) > 0).all()


def test_invalid_kl_mode_is_named():
    spec = ActionParamSpec.for_action_space(spaces.Discrete(2))
    with pytest.raises(ValueError, match="'sideways'"):
        distillation_kl(th.zeros(1, 2), th.zeros(1, 2), spec, "sideways")


def test_action_params_from_every_sb3_distribution_reproduce_torch_kl():
    """The flat view of each SB3 distribution class gives the KL torch computes on the distributions themselves."""
    latent = th.randn(BATCH, 8)
    cases = []
    categorical = CategoricalDistribution(4)
    net = categorical.proba_distribution_net(8)
    cases.append((spaces.Discrete(4), categorical.proba_distribution(net(latent)), lambda d: [d.distribution]))
    multi = MultiCategoricalDistribution([2, 3])
    net_m = multi.proba_distribution_net(8)
    cases.append((spaces.MultiDiscrete([2, 3]), multi.proba_distribution(net_m(latent)), lambda d: d.distribution))
    bernoulli = BernoulliDistribution(3)
    net_b = bernoulli.proba_distribution_net(8)
    cases.append((spaces.MultiBinary(3), bernoulli.proba_distribution(net_b(latent)), lambda d: [d.distribution]))
    for space, dist, _torch_dists in cases:
        spec = ActionParamSpec.for_action_space(space)
        params = action_params(dist)
        other = params.detach() + th.randn_like(params)
        if not isinstance(dist, BernoulliDistribution):
            other = log_probs(other, list(spec.action_dims))
        # rebuild the same family from "other" and compare with torch's KL
        if isinstance(dist, BernoulliDistribution):
            expected = torch_kl(Bernoulli(logits=params), Bernoulli(logits=other)).sum(1)
        else:
            dims = list(spec.action_dims)
            expected = sum(
                torch_kl(Categorical(logits=a), Categorical(logits=b))
                for a, b in zip(th.split(params, dims, 1), th.split(other, dims, 1), strict=True)
            )
        assert params.shape == (BATCH, spec.n_params)
        assert th.allclose(kl_divergence(params, other, spec), expected, atol=1e-5)


def test_gsde_and_diag_gaussian_share_one_view():
    """A gSDE teacher and a plain Gaussian student (and vice versa) compare through the per-state mean and std."""
    d, latent_dim = 2, 6
    latent = th.randn(BATCH, latent_dim)
    diag = DiagGaussianDistribution(d)
    mean_net, log_std = diag.proba_distribution_net(latent_dim, log_std_init=-0.5)
    diag.proba_distribution(mean_net(latent), log_std)
    sde = StateDependentNoiseDistribution(d)
    sde_mean_net, sde_log_std = sde.proba_distribution_net(latent_dim, log_std_init=-1.0)
    sde.proba_distribution(sde_mean_net(latent), sde_log_std, latent)
    spec = ActionParamSpec.for_action_space(spaces.Box(-1, 1, (d,)))
    diag_params, sde_params = action_params(diag), action_params(sde)
    expected = torch_kl(sde.distribution, diag.distribution).sum(1)
    assert th.allclose(kl_divergence(sde_params, diag_params, spec), expected, atol=1e-5)
    expected_reverse = torch_kl(diag.distribution, sde.distribution).sum(1)
    assert th.allclose(kl_divergence(diag_params, sde_params, spec), expected_reverse, atol=1e-5)


def test_most_probable_action():
    spec = ActionParamSpec.for_action_space(spaces.MultiDiscrete([2, 3]))
    params = th.tensor([[0.1, 0.9, 0.2, 0.1, 3.0]])
    assert most_probable_action(params, spec).tolist() == [[1, 2]]
    spec_b = ActionParamSpec.for_action_space(spaces.MultiBinary(3))
    assert most_probable_action(th.tensor([[1.0, -2.0, 0.5]]), spec_b).tolist() == [[1, 0, 1]]


@pytest.mark.parametrize("eps", [0.1, 0.2, 0.3])
def test_clipped_ratio_weight_equals_paper_form(eps):
    """max(ratio, 1 - ε)·KL == max(ratio·KL, clip(ratio, 1-ε, 1+ε)·KL) for KL >= 0 (the code's identity)."""
    ratio = th.exp(th.randn(10_000) * 0.5)
    kl = th.rand(10_000) * 2
    ours = th.clamp(ratio, min=1 - eps) * kl
    paper = th.maximum(ratio * kl, th.clamp(ratio, 1 - eps, 1 + eps) * kl)
    assert th.allclose(ours, paper)
    # and the weight is exactly 1 - ε where the ratio falls below it
    low = ratio < 1 - eps
    assert low.any() and th.allclose(ours[low], (1 - eps) * kl[low])


def test_unsupported_action_space_is_named():
    with pytest.raises(ValueError, match="Tuple"):
        ActionParamSpec.for_action_space(spaces.Tuple([spaces.Discrete(2)]))
    assert np.isclose(ActionParamSpec.for_action_space(spaces.Box(-1, 1, (3,))).n_params, 6)
