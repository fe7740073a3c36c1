"""Closed-form KL divergences between flat action-distribution parameters (see ``action_params``).

Every divergence is summed over independent action dimensions (Gaussian dimensions, MultiDiscrete
sub-actions, MultiBinary bits), so that it is the KL of the joint action distribution.

Categorical parameters are normalised log-probabilities, as ``action_params`` returns them; the KL
uses them as they are, since it runs on every minibatch.
"""

from __future__ import annotations

import torch as th
import torch.nn.functional as F

from sb3_distill.common.action_params import BERNOULLI, CATEGORICAL, GAUSSIAN, MULTI_CATEGORICAL, ActionParamSpec

KL_MODES = ("forward", "reverse")


def kl_divergence(p: th.Tensor, q: th.Tensor, spec: ActionParamSpec) -> th.Tensor:
    """KL(p || q) per row, shape ``[batch]``.

    :param p: parameters of the first distribution, ``[batch, spec.n_params]`` (for categorical
        families: log-probabilities, normalised over each sub-action)
    :param q: parameters of the second distribution, same shape
    :param spec: the layout of both
    """
    if spec.family == CATEGORICAL:
        return _categorical_kl(p, q)
    if spec.family == MULTI_CATEGORICAL:
        splits = list(spec.action_dims)
        return sum(_categorical_kl(p_i, q_i) for p_i, q_i in zip(th.split(p, splits, 1), th.split(q, splits, 1)))
    if spec.family == BERNOULLI:
        return _bernoulli_kl(p, q).sum(dim=1)
    if spec.family == GAUSSIAN:
        return _gaussian_kl(p, q).sum(dim=1)
    raise ValueError(f"Unknown distribution family {spec.family!r}")


def distillation_kl(teacher: th.Tensor, student: th.Tensor, spec: ActionParamSpec, kl_mode: str) -> th.Tensor:
    """KL(teacher || student) for ``kl_mode="forward"``, KL(student || teacher) for ``"reverse"``."""
    if kl_mode == "forward":
        return kl_divergence(teacher, student, spec)
    if kl_mode == "reverse":
        return kl_divergence(student, teacher, spec)
    raise ValueError(f"kl_mode must be one of {KL_MODES}, got {kl_mode!r}")


def _categorical_kl(log_p: th.Tensor, log_q: th.Tensor) -> th.Tensor:
    return (log_p.exp() * (log_p - log_q)).sum(dim=1)


def _bernoulli_kl(p_logits: th.Tensor, q_logits: th.Tensor) -> th.Tensor:
    # log(sigmoid(x)) and log(1 - sigmoid(x)) = log(sigmoid(-x)), both stable for large |x|
    log_p1, log_p0 = F.logsigmoid(p_logits), F.logsigmoid(-p_logits)
    log_q1, log_q0 = F.logsigmoid(q_logits), F.logsigmoid(-q_logits)
    return log_p1.exp() * (log_p1 - log_q1) + log_p0.exp() * (log_p0 - log_q0)


def _gaussian_kl(p: th.Tensor, q: th.Tensor) -> th.Tensor:
    mean_p, log_std_p = p.chunk(2, dim=1)
    mean_q, log_std_q = q.chunk(2, dim=1)
    var_ratio = th.exp(2 * (log_std_p - log_std_q))
    scaled_mean_gap = (mean_p - mean_q) * th.exp(-log_std_q)
    return log_std_q - log_std_p + 0.5 * (var_ratio + scaled_mean_gap.pow(2) - 1)
