"""One PPD minibatch loss computed by hand from the paper's Eq. 2, against what ``PPD.train`` optimises.

    L = L_PPO-clip + c_v * L_value - c_e * H + λ * mean( max(ratio, 1 - ε) * KL(π_teacher || π_θ) )

The hand computation uses ``torch.distributions`` on the networks' outputs and the rollout buffer's
arrays, never the library's loss code. The update is one SGD step (lr = 1) on the whole rollout, so the
change of every parameter is the gradient of the loss ``train()`` builds; it must equal the gradient of
the hand-computed loss. The weights are perturbed after the rollout so that the ratio is not 1, and
spread on both sides of 1 − ε, so that max(ratio, 1 − ε) matters.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import IdentityEnv, IdentityEnvBox
from torch.distributions import Categorical, Distribution, Independent, Normal, kl_divergence

import sb3_distill.ppd.ppd as ppd_module
from sb3_distill import PPD

N_ENVS, N_STEPS = 2, 32
CLIP, LAMBDA, ENT_COEF, VF_COEF = 0.2, 0.7, 0.01, 0.5
ENVS = {"discrete": lambda: IdentityEnv(4), "box": lambda: IdentityEnvBox(eps=0.5)}


def torch_distribution(policy, obs: th.Tensor) -> Distribution:
    """The policy's action distribution at ``obs``, built here from its networks' outputs."""
    latent_pi = policy.mlp_extractor.forward_actor(policy.extract_features(obs))
    out = policy.action_net(latent_pi)
    if isinstance(policy.action_space, spaces.Discrete):
        return Categorical(logits=out)
    return Independent(Normal(out, policy.log_std.exp().expand_as(out)), 1)


def hand_loss(model: PPD, teacher_policy, batch: dict[str, th.Tensor]) -> dict[str, th.Tensor]:
    """Every term of Eq. 2 on ``batch``, from ``model.policy``'s current weights."""
    obs, actions = batch["obs"], batch["actions"]
    student = torch_distribution(model.policy, obs)
    with th.no_grad():
        teacher = torch_distribution(teacher_policy, obs)
    log_prob = student.log_prob(actions)
    values = model.policy.value_net(model.policy.mlp_extractor.forward_critic(model.policy.extract_features(obs))).flatten()

    advantages = batch["advantages"]
    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    ratio = th.exp(log_prob - batch["old_log_prob"])
    policy_loss = -th.min(advantages * ratio, advantages * th.clamp(ratio, 1 - CLIP, 1 + CLIP)).mean()
    value_loss = ((batch["returns"] - values) ** 2).mean()
    entropy_loss = -student.entropy().mean()
    kl = kl_divergence(teacher, student)  # KL(teacher || student), summed over action dimensions
    distillation_loss = (th.maximum(ratio, th.full_like(ratio, 1 - CLIP)) * kl).mean()
    loss = policy_loss + ENT_COEF * entropy_loss + VF_COEF * value_loss + LAMBDA * distillation_loss
    return dict(
        ratio=ratio,
        policy_loss=policy_loss,
        value_loss=value_loss,
        entropy_loss=entropy_loss,
        distillation_loss=distillation_loss,
        loss=loss,
    )


@pytest.mark.parametrize("kind", sorted(ENVS))
def test_one_ppd_update_follows_eq_2(kind, monkeypatch):
    env = make_vec_env(ENVS[kind], n_envs=N_ENVS, seed=0)
    teacher = PPO("MlpPolicy", make_vec_env(ENVS[kind], n_envs=1), seed=1, policy_kwargs={"net_arch": [16]})
    model = PPD(
        "MlpPolicy",
        env,
        n_steps=N_STEPS,
        batch_size=N_STEPS * N_ENVS,
        n_epochs=1,
        learning_rate=1.0,
        clip_range=CLIP,
        ent_coef=ENT_COEF,
        vf_coef=VF_COEF,
        max_grad_norm=1e9,
        seed=0,
        policy_kwargs={"net_arch": [16]},
    )
    model.set_teacher(teacher, distill_lambda=LAMBDA)
    model.policy.optimizer = th.optim.SGD(model.policy.parameters(), lr=1.0)

    _, callback = model._setup_learn(N_STEPS * N_ENVS, callback=None)
    assert model.collect_rollouts(model.env, callback, model.rollout_buffer, N_STEPS)
    buffer = model.rollout_buffer

    def flat(array: np.ndarray) -> th.Tensor:
        return th.as_tensor(array.reshape(N_STEPS * N_ENVS, *array.shape[2:]), dtype=th.float32)

    actions = flat(buffer.actions)
    batch = dict(
        obs=flat(buffer.observations),
        actions=actions.long().flatten() if kind == "discrete" else actions,
        old_log_prob=flat(buffer.log_probs),
        advantages=flat(buffer.advantages),
        returns=flat(buffer.returns),
    )

    gen = th.Generator().manual_seed(0)
    with th.no_grad():  # a policy other than the one that collected the rollout: ratio != 1
        for parameter in model.policy.parameters():
            parameter.add_(0.3 * th.randn(parameter.shape, generator=gen))
    before = [parameter.detach().clone() for parameter in model.policy.parameters()]

    expected = hand_loss(model, teacher.policy, batch)
    assert (expected["ratio"] < 1 - CLIP).any() and (expected["ratio"] > 1 - CLIP).any()
    assert expected["distillation_loss"] > 0.01
    expected_grads = th.autograd.grad(expected["loss"], list(model.policy.parameters()))

    recorded: dict[str, float] = {}
    check_update = ppd_module.check_update

    def record(update, timesteps, loss, distillation_loss, max_divergence, terms):
        recorded.update(
            {name: float(value.detach() if isinstance(value, th.Tensor) else value) for name, value in terms.items()}
        )
        check_update(update, timesteps, loss, distillation_loss, max_divergence, terms)

    monkeypatch.setattr(ppd_module, "check_update", record)
    model.train()

    assert recorded["distill_lambda"] == LAMBDA
    for name in ("policy_loss", "value_loss", "entropy_loss", "distillation_loss", "loss"):
        assert recorded[name] == pytest.approx(expected[name].item(), rel=1e-5, abs=1e-6), name
    for old, new, grad in zip(before, model.policy.parameters(), expected_grads, strict=True):
        th.testing.assert_close(old - new.detach(), grad, rtol=1e-4, atol=1e-5)
