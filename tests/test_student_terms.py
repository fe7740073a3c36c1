"""The joint Gaussian form of log π, entropy and KL equals torch's Normal and the generic KL, values and gradients."""

from __future__ import annotations

import pytest
import torch as th
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnvBox

from sb3_distill import PPD
from sb3_distill.common.action_params import GAUSSIAN, ActionParamSpec
from sb3_distill.common.losses import distillation_kl
from sb3_distill.common.student_terms import diag_gaussian_terms, has_shared_log_std


@pytest.mark.parametrize("kl_mode", ["forward", "reverse"])
def test_joint_gaussian_terms_equal_normal_and_generic_kl(kl_mode):
    gen = th.Generator().manual_seed(0)
    batch, d = 32, 3
    mean_q = th.randn(batch, d, generator=gen, requires_grad=True)
    log_std_q = (0.3 * th.randn(d, generator=gen)).requires_grad_()
    actions = th.randn(batch, d, generator=gen)
    teacher = th.cat([th.randn(batch, d, generator=gen), 0.5 * th.randn(batch, d, generator=gen)], dim=1)

    log_prob, entropy, kl = diag_gaussian_terms(mean_q, log_std_q, actions, teacher, kl_mode)
    joint_grads = th.autograd.grad((log_prob + entropy + kl).sum(), [mean_q, log_std_q])

    normal = th.distributions.Normal(mean_q, th.ones_like(mean_q) * log_std_q.exp())
    student = th.cat([mean_q, log_std_q.expand(batch, d)], dim=1)
    reference = (
        normal.log_prob(actions).sum(dim=1),
        normal.entropy().sum(dim=1),
        distillation_kl(teacher, student, ActionParamSpec(GAUSSIAN, (d,)), kl_mode),
    )
    reference_grads = th.autograd.grad(sum(term.sum() for term in reference), [mean_q, log_std_q])

    for ours, theirs in zip((log_prob, entropy.expand(batch), kl), reference, strict=True):
        assert th.allclose(ours, theirs, atol=1e-5)
    assert kl.min() > 0.0
    for ours, theirs in zip(joint_grads, reference_grads, strict=True):
        assert th.allclose(ours, theirs, atol=1e-4)


def test_joint_form_only_for_plain_gaussian_policies():
    env = make_vec_env(lambda: IdentityEnvBox(eps=0.5), n_envs=1)
    assert has_shared_log_std(PPO("MlpPolicy", env).policy)
    assert not has_shared_log_std(PPO("MlpPolicy", env, use_sde=True).policy)
    assert not has_shared_log_std(PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=1)).policy)


@pytest.mark.parametrize("distill_loss", ["forward_kl", "nll"])
def test_lambda_zero_is_plain_ppo_for_gaussian_actions(identity_teachers, distill_loss):
    """The joint Gaussian path (forward_kl) and the generic one (nll) both give PPO's update when λ = 0."""
    env_kwargs = dict(n_envs=4, seed=5)
    kwargs = dict(seed=3, n_steps=32, batch_size=64, n_epochs=4, learning_rate=3e-3, policy_kwargs={"net_arch": [16]})
    ppd = PPD("MlpPolicy", make_vec_env(lambda: IdentityEnvBox(eps=0.5), **env_kwargs), **kwargs)
    ppd.set_teacher(identity_teachers["box"], distill_lambda=0.0, distill_loss=distill_loss)
    ppd.learn(256)
    ppo = PPO("MlpPolicy", make_vec_env(lambda: IdentityEnvBox(eps=0.5), **env_kwargs), **kwargs)
    ppo.learn(256)
    for a, b in zip(ppd.policy.parameters(), ppo.policy.parameters(), strict=True):
        assert th.allclose(a, b, atol=1e-5)
