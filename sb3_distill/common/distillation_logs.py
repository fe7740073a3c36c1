"""The distillation metrics each update logs: ``train/distillation_loss``, ``train/distillation_lambda``,
``train/teacher_kl`` and, for discrete actions, ``train/action_agreement``."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch as th
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import explained_variance

from sb3_distill.common.action_params import ActionParamSpec, most_probable_action


def action_agreement(teacher_params: th.Tensor, student_params: th.Tensor | None, spec: ActionParamSpec) -> th.Tensor | None:
    """Fraction of states where the most probable actions agree on every sub-action; ``None`` for continuous
    actions, or when the student's parameters were not computed (the joint Gaussian form).

    :param teacher_params: the teacher's labels, ``[batch, spec.n_params]``
    :param student_params: the student's parameters, same shape
    :param spec: the layout of both
    """
    if not spec.is_discrete or student_params is None:
        return None
    with th.no_grad():
        same = most_probable_action(teacher_params, spec) == most_probable_action(student_params, spec)
        return same.all(dim=1).float().mean()


def record_distillation_logs(
    logger: Logger,
    distill_lambda: float,
    distillation_losses: list[th.Tensor],
    teacher_kls: list[th.Tensor | None],
    agreements: list[th.Tensor | None],
) -> None:
    """Record the means over an update's minibatches; ``train/teacher_kl`` only where the teacher has a KL to the
    student, ``train/action_agreement`` only where the actions are discrete.

    :param logger: the model's logger
    :param distill_lambda: λ of the update
    :param distillation_losses: the distillation term of each minibatch
    :param teacher_kls: the mean KL of each minibatch (``None``: no KL)
    :param agreements: the action agreement of each minibatch (``None``: not defined)
    """
    logger.record("train/distillation_loss", th.stack(distillation_losses).mean().item())
    logger.record("train/distillation_lambda", distill_lambda)
    kls = [kl for kl in teacher_kls if kl is not None]
    if kls:
        logger.record("train/teacher_kl", th.stack(kls).mean().item())
    agreed = [agreement for agreement in agreements if agreement is not None]
    if agreed:
        logger.record("train/action_agreement", th.stack(agreed).mean().item())


class PPOLosses(NamedTuple):
    """What a PPO-style update (PPD, feed-forward or recurrent) collects over its minibatches, for the log."""

    entropy: list[th.Tensor]
    policy_gradient: list[th.Tensor]
    value: list[th.Tensor]
    approx_kl: list[Any]
    clip_fraction: list[th.Tensor]
    last_loss: th.Tensor


def record_ppo_logs(model: Any, losses: PPOLosses, clip_range: float, clip_range_vf: float | None) -> None:
    """SB3's PPO keys at the end of an update: the minibatch means, the explained variance of the rollout's
    returns, ``std`` of a Gaussian policy, the update count and the clip ranges (``clip_range_vf`` when set).

    :param model: the algorithm (its logger, policy, rollout buffer and update count are read)
    :param losses: what the update collected
    :param clip_range: the policy clip range of this update
    :param clip_range_vf: the value clip range, ``None`` when the model has none
    """
    logger = model.logger
    buffer = model.rollout_buffer
    logger.record("train/entropy_loss", th.stack(losses.entropy).mean().item())
    logger.record("train/policy_gradient_loss", th.stack(losses.policy_gradient).mean().item())
    logger.record("train/value_loss", th.stack(losses.value).mean().item())
    logger.record("train/approx_kl", np.mean(losses.approx_kl))
    logger.record("train/clip_fraction", th.stack(losses.clip_fraction).mean().item())
    logger.record("train/loss", losses.last_loss.item())
    logger.record("train/explained_variance", explained_variance(buffer.values.flatten(), buffer.returns.flatten()))
    if hasattr(model.policy, "log_std"):
        logger.record("train/std", th.exp(model.policy.log_std).mean().item())
    logger.record("train/n_updates", model._n_updates, exclude="tensorboard")
    logger.record("train/clip_range", clip_range)
    if clip_range_vf is not None:
        logger.record("train/clip_range_vf", clip_range_vf)
