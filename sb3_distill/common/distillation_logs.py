"""The distillation metrics each update logs: ``train/distillation_loss``, ``train/distillation_lambda``,
``train/teacher_kl`` and, for discrete actions, ``train/action_agreement``."""

from __future__ import annotations

import torch as th
from stable_baselines3.common.logger import Logger

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
