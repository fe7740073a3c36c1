"""The distillation losses, per state, between the teacher's and the student's flat parameters.

- ``forward_kl``: KL(teacher || student), the paper's (closed form);
- ``reverse_kl``: KL(student || teacher) (closed form);
- ``jsd``: the generalised Jensen-Shannon divergence of GKD (Agarwal et al., 2024) with β in [0, 1]:
  β·KL(teacher || M) + (1 − β)·KL(student || M), M = β·teacher + (1 − β)·student; β = 0 is the forward
  KL and β = 1 the reverse KL. Closed form for categorical and Bernoulli actions (per sub-action, summed);
  for Gaussians, whose mixture has no closed-form KL, a Monte Carlo estimate with ``JSD_SAMPLES``
  reparameterised samples from each distribution;
- ``nll``: −log π_student(a* | s) of the teacher's most probable action a* (behaviour cloning on the
  student's states, i.e. DAgger with β = 0).

Action-matching losses, for continuous actions, between the student's mean action and the teacher's
action (its deterministic action, or its mean), both in SB3's [-1, 1]-scaled units (see
``action_params.ActionUnits``); the default for teachers without an action distribution (SAC, TD3,
DDPG, TQC):

- ``mse``: the squared distance ``sum_d (a_student − a_teacher)²``;
- ``huber``: ``sum_d huber(a_student − a_teacher)`` with δ = ``HUBER_DELTA``.

All are summed over independent action dimensions, like the KLs.
"""

from __future__ import annotations

import math

import torch as th
import torch.nn.functional as F

from sb3_distill.common.action_params import BERNOULLI, CATEGORICAL, GAUSSIAN, MULTI_CATEGORICAL, ActionParamSpec
from sb3_distill.common.divergences import kl_divergence

DISTRIBUTION_LOSSES = ("forward_kl", "reverse_kl", "jsd", "nll")
ACTION_MATCHING_LOSSES = ("mse", "huber")
LOSSES = DISTRIBUTION_LOSSES + ACTION_MATCHING_LOSSES
JSD_SAMPLES = 16
HUBER_DELTA = 1.0


def distillation_loss(
    name: str, teacher: th.Tensor, student: th.Tensor, spec: ActionParamSpec, jsd_beta: float = 0.5
) -> th.Tensor:
    """The loss ``name`` at each state, ``[batch]``."""
    if name == "forward_kl":
        return kl_divergence(teacher, student, spec)
    if name == "reverse_kl":
        return kl_divergence(student, teacher, spec)
    if name == "jsd":
        return generalized_jsd(teacher, student, spec, jsd_beta)
    if name == "nll":
        return teacher_mode_nll(teacher, student, spec)
    raise ValueError(f"distill_loss must be one of {DISTRIBUTION_LOSSES}, got {name!r}.")


def action_matching_loss(name: str, teacher_actions: th.Tensor, student_actions: th.Tensor) -> th.Tensor:
    """``mse`` or ``huber`` at each state, ``[batch]``, between actions in the same units ``[batch, d]``."""
    if name == "mse":
        return (student_actions - teacher_actions).pow(2).sum(dim=1)
    if name == "huber":
        return F.huber_loss(student_actions, teacher_actions, reduction="none", delta=HUBER_DELTA).sum(dim=1)
    raise ValueError(f"An action-matching loss is one of {ACTION_MATCHING_LOSSES}, got {name!r}.")


def check_jsd_beta(beta: float) -> float:
    if not (isinstance(beta, (int, float)) and 0.0 <= beta <= 1.0):
        raise ValueError(f"jsd_beta must be a number in [0, 1], got {beta!r}.")
    return float(beta)


def _categorical_rows(params: th.Tensor, spec: ActionParamSpec) -> list[th.Tensor]:
    """Log-probabilities of each categorical factor: ``[batch, n]`` for each sub-action (or bit)."""
    if spec.family == CATEGORICAL:
        return [params]
    if spec.family == MULTI_CATEGORICAL:
        return list(th.split(params, list(spec.action_dims), dim=1))
    if spec.family == BERNOULLI:  # bits as two-class categoricals, [batch * n, 2]
        return [th.stack([F.logsigmoid(-params), F.logsigmoid(params)], dim=-1).reshape(-1, 2)]
    raise ValueError(f"{spec.family} is not categorical")


def _per_state(values: th.Tensor, batch: int) -> th.Tensor:
    return values.reshape(batch, -1).sum(dim=1)


def _kl_from_log_probs(log_p: th.Tensor, log_q: th.Tensor) -> th.Tensor:
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1)


def generalized_jsd(teacher: th.Tensor, student: th.Tensor, spec: ActionParamSpec, beta: float) -> th.Tensor:
    beta = check_jsd_beta(beta)
    if beta == 0.0:
        return kl_divergence(teacher, student, spec)
    if beta == 1.0:
        return kl_divergence(student, teacher, spec)
    batch = teacher.shape[0]
    if spec.family == GAUSSIAN:
        return _gaussian_jsd_monte_carlo(teacher, student, beta)
    total = th.zeros(batch, device=teacher.device)
    for log_t, log_s in zip(_categorical_rows(teacher, spec), _categorical_rows(student, spec)):
        log_m = th.logsumexp(th.stack([log_t + math.log(beta), log_s + math.log(1 - beta)]), dim=0)
        jsd = beta * _kl_from_log_probs(log_t, log_m) + (1 - beta) * _kl_from_log_probs(log_s, log_m)
        total = total + _per_state(jsd, batch)
    return total


def _gaussian_log_prob(x: th.Tensor, mean: th.Tensor, log_std: th.Tensor) -> th.Tensor:
    """log N(x; mean, exp(log_std)²) summed over action dimensions; x is ``[samples, batch, d]``."""
    return (-0.5 * ((x - mean) * th.exp(-log_std)).pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(dim=-1)


def _gaussian_jsd_monte_carlo(teacher: th.Tensor, student: th.Tensor, beta: float) -> th.Tensor:
    mean_t, log_std_t = teacher.chunk(2, dim=1)
    mean_s, log_std_s = student.chunk(2, dim=1)
    shape = (JSD_SAMPLES, *mean_t.shape)
    x_t = mean_t + th.exp(log_std_t) * th.randn(shape, device=teacher.device)
    x_s = mean_s + th.exp(log_std_s) * th.randn(shape, device=student.device)  # reparameterised: gradients flow

    def log_mixture(x: th.Tensor) -> th.Tensor:
        return th.logsumexp(
            th.stack(
                [
                    _gaussian_log_prob(x, mean_t, log_std_t) + math.log(beta),
                    _gaussian_log_prob(x, mean_s, log_std_s) + math.log(1 - beta),
                ]
            ),
            dim=0,
        )

    kl_t = (_gaussian_log_prob(x_t, mean_t, log_std_t) - log_mixture(x_t)).mean(dim=0)
    kl_s = (_gaussian_log_prob(x_s, mean_s, log_std_s) - log_mixture(x_s)).mean(dim=0)
    return beta * kl_t + (1 - beta) * kl_s


def teacher_mode_nll(teacher: th.Tensor, student: th.Tensor, spec: ActionParamSpec) -> th.Tensor:
    if spec.family == GAUSSIAN:
        mean_t, _ = teacher.chunk(2, dim=1)
        mean_s, log_std_s = student.chunk(2, dim=1)
        return -_gaussian_log_prob(mean_t.unsqueeze(0), mean_s, log_std_s).squeeze(0)
    batch = teacher.shape[0]
    total = th.zeros(batch, device=teacher.device)
    for log_t, log_s in zip(_categorical_rows(teacher, spec), _categorical_rows(student, spec)):
        mode = log_t.argmax(dim=-1, keepdim=True)
        total = total - _per_state(log_s.gather(-1, mode), batch)
    return total
