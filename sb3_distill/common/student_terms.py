"""The student's side of a distillation minibatch: log π(a|s), entropy, V(s) and the divergence to the teacher.

All of them come from one pass through the student's networks. For SB3's default continuous policy
(a diagonal Gaussian whose log-std is one parameter vector shared by every state) they are computed
jointly from shared terms (1/σ², Σ log σ) instead of through ``torch.distributions.Normal`` and the
generic divergence. The values are the same to float precision (tested), but the autograd graph is
about half the size. At PPO's minibatch sizes a CPU update costs roughly per autograd node, not per
FLOP, so this joint form is what keeps PPD's update close to PPO's in ``benchmarks/throughput.py``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch as th
from stable_baselines3.common.distributions import DiagGaussianDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import PyTorchObs

from sb3_distill.common.action_params import action_params
from sb3_distill.common.losses import DistillationLoss
from sb3_distill.common.policy_forward import actor_latent_and_values

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class StudentTerms(NamedTuple):
    """Per-state quantities of one minibatch, all carrying gradients.

    :param log_prob: log π_θ(a|s) of the stored actions, ``[batch]``
    :param entropy: the policy's entropy, ``[batch]``, or a scalar when it is the same at every state;
        ``None`` where SB3 has no closed form (squashed gSDE)
    :param values: V_θ(s), ``[batch]``
    :param divergence: the unweighted distillation loss to the teacher, ``[batch]``
    :param params: the student's flat distribution parameters (see ``action_params``), or ``None``
        when the joint Gaussian form was used and nothing else needs them
    """

    log_prob: th.Tensor
    entropy: th.Tensor | None
    values: th.Tensor
    divergence: th.Tensor
    params: th.Tensor | None


def student_terms(
    policy: ActorCriticPolicy,
    observations: PyTorchObs,
    actions: th.Tensor,
    teacher_params: th.Tensor,
    distillation: DistillationLoss,
) -> StudentTerms:
    """One actor-critic pass and everything the distillation losses need from it.

    :param policy: the student
    :param observations: a minibatch of observations, as the student sees them
    :param actions: the actions taken, as stored in the rollout buffer
    :param teacher_params: the teacher's flat distribution parameters for these states
    :param distillation: the loss to the teacher; a Gaussian KL (``joint_gaussian_kl_mode``) of a
        shared-log-std Gaussian student takes the joint form
    """
    latent_pi, values = actor_latent_and_values(policy, observations)
    gaussian_kl_mode = distillation.joint_gaussian_kl_mode
    if gaussian_kl_mode is not None and has_shared_log_std(policy):
        log_prob, entropy, kl = diag_gaussian_terms(
            policy.action_net(latent_pi), policy.log_std, actions, teacher_params, gaussian_kl_mode
        )
        return StudentTerms(log_prob, entropy, values, kl, None)
    distribution = policy._get_action_dist_from_latent(latent_pi)
    params = action_params(distribution)
    return StudentTerms(
        distribution.log_prob(actions), distribution.entropy(), values, distillation(teacher_params, params), params
    )


def has_shared_log_std(policy: ActorCriticPolicy) -> bool:
    """Whether the policy is SB3's plain diagonal Gaussian: ``N(action_net(latent), exp(log_std))``."""
    return (
        type(policy.action_dist) is DiagGaussianDistribution
        and isinstance(getattr(policy, "log_std", None), th.nn.Parameter)
        and type(policy)._get_action_dist_from_latent is ActorCriticPolicy._get_action_dist_from_latent
    )


def diag_gaussian_terms(
    mean_q: th.Tensor, log_std_q: th.Tensor, actions: th.Tensor, teacher_params: th.Tensor, kl_mode: str
) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """log π(a|s), entropy and KL for a Gaussian student ``q = N(mean_q, exp(log_std_q))`` with a shared std.

    :param mean_q: the student's means, ``[batch, d]``
    :param log_std_q: the student's log standard deviations, ``[d]``, the same at every state
    :param actions: ``[batch, d]``
    :param teacher_params: the teacher's means and log-stds, ``[batch, 2d]``
    :param kl_mode: ``"forward"`` for KL(teacher || student), ``"reverse"`` for KL(student || teacher)
    :return: log-probabilities ``[batch]``, the entropy (a scalar: it does not depend on the state), KL ``[batch]``
    """
    d = mean_q.shape[1]
    mean_p, log_std_p = teacher_params.chunk(2, dim=1)
    sum_log_std_q = log_std_q.sum()
    half_inv_var_q = 0.5 * th.exp(-2 * log_std_q)
    log_prob = -((actions - mean_q).pow(2) @ half_inv_var_q) - (sum_log_std_q + d * _LOG_SQRT_2PI)
    entropy = sum_log_std_q + d * (0.5 + _LOG_SQRT_2PI)
    mean_gap_sq = (mean_p - mean_q).pow(2)
    if kl_mode == "forward":
        kl = (mean_gap_sq + th.exp(2 * log_std_p)) @ half_inv_var_q + (sum_log_std_q - log_std_p.sum(dim=1) - 0.5 * d)
    elif kl_mode == "reverse":
        half_inv_var_p = 0.5 * th.exp(-2 * log_std_p)
        kl = ((mean_gap_sq + th.exp(2 * log_std_q)) * half_inv_var_p).sum(dim=1) + (
            log_std_p.sum(dim=1) - sum_log_std_q - 0.5 * d
        )
    else:
        raise ValueError(f"kl_mode must be 'forward' or 'reverse', got {kl_mode!r}")
    return log_prob, entropy, kl


def critic_parameters(policy: ActorCriticPolicy) -> list[th.nn.Parameter]:
    """The parameters that only the value loss reaches: the value head, the critic's MLP, a recurrent student's
    own critic LSTM (``enable_critic_lstm=True``) or linear layer (sb3-contrib's ``critic``), and, when the
    features extractor is not shared, the critic's own extractor. With ``shared_lstm=True`` the critic reads
    the actor's LSTM detached, so that LSTM is the actor's.

    :param policy: the student
    """
    modules: list[th.nn.Module] = [policy.value_net]
    critic_mlp = getattr(policy.mlp_extractor, "value_net", None)
    if isinstance(critic_mlp, th.nn.Module):
        modules.append(critic_mlp)
    for own in (getattr(policy, "lstm_critic", None), getattr(policy, "critic", None)):
        if isinstance(own, th.nn.Module):
            modules.append(own)
    if not policy.share_features_extractor:
        modules.append(policy.vf_features_extractor)
    unique = {id(parameter): parameter for module in modules for parameter in module.parameters()}
    return list(unique.values())


class GradientClip:
    """Gradient-norm clipping of the student: the actor's parameters (with any shared features extractor) and
    the critic's own (:func:`critic_parameters`) each to ``max_norm``, or, with ``apart=False``, all of them
    together as SB3's PPO does.

    One clip over all parameters scales the actor's gradient by the critic's: with value targets of large
    magnitude (raw returns in the hundreds, a SAC teacher's Q) the value loss's gradient is hundreds of times
    the actor's, and the shared clip shrinks the policy and distillation gradient by as much, to the order of
    Adam's ε, so that the actor barely learns (issue 16; docs/guide/algorithms.md).

    :param policy: the student
    :param apart: clip the actor's and the critic's gradients each on its own
    """

    def __init__(self, policy: ActorCriticPolicy, apart: bool = True):
        if apart:
            critic = critic_parameters(policy)
            critic_ids = {id(parameter) for parameter in critic}
            actor = [parameter for parameter in policy.parameters() if id(parameter) not in critic_ids]
            self.groups: tuple[list[th.nn.Parameter], ...] = (actor, critic)
        else:
            self.groups = (list(policy.parameters()),)

    def __call__(self, max_norm: float) -> None:
        """Clip the gradients of each group to a norm of ``max_norm`` (``clip_grad_norm_``)."""
        for group in self.groups:
            th.nn.utils.clip_grad_norm_(group, max_norm)
