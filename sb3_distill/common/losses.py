"""The distillation losses, per state, between the teacher's and the student's flat parameters.

Distribution losses, between flat action-distribution parameters (see ``action_params``):

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

Every loss is summed over independent action dimensions (Gaussian dimensions, MultiDiscrete
sub-actions, MultiBinary bits), so that a KL is the KL of the joint action distribution.
Categorical parameters are normalised log-probabilities, as ``action_params`` returns them; the KL
uses them as they are, since it runs on every minibatch.

:class:`DistillationLoss` is the choice among them, made once when the teacher is set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch as th
import torch.nn.functional as F
from gymnasium import spaces

from sb3_distill.common.action_params import (
    BERNOULLI,
    CATEGORICAL,
    DETERMINISTIC,
    GAUSSIAN,
    MULTI_CATEGORICAL,
    ActionParamSpec,
    ActionUnits,
)

if TYPE_CHECKING:
    from sb3_distill.common.teacher import Teacher

KL_MODES = ("forward", "reverse")
DISTRIBUTION_LOSSES = ("forward_kl", "reverse_kl", "jsd", "nll")
ACTION_MATCHING_LOSSES = ("mse", "huber")
LOSSES = DISTRIBUTION_LOSSES + ACTION_MATCHING_LOSSES
JSD_SAMPLES = 16
HUBER_DELTA = 1.0


# ---------------------------------------------------------------------- the choice of loss


def check_kl_mode(kl_mode: str) -> str:
    """``kl_mode`` if it is ``"forward"`` or ``"reverse"``.

    :param kl_mode: the direction of the KL
    :raises ValueError: naming the expected values and the one received
    """
    if kl_mode not in KL_MODES:
        raise ValueError(f"kl_mode must be 'forward' or 'reverse', got {kl_mode!r}.")
    return kl_mode


def check_distill_loss(kl_mode: str, distill_loss: str | None) -> tuple[str, str]:
    """``(kl_mode, distill_loss)``, consistent: ``kl_mode`` names the KL when no other loss is given.

    :param kl_mode: ``"forward"`` or ``"reverse"``
    :param distill_loss: one of ``LOSSES``, or ``None`` for the KL that ``kl_mode`` names
    :raises ValueError: for an unknown name, or a ``*_kl`` loss that contradicts a non-default ``kl_mode``
    """
    kl_mode = check_kl_mode(kl_mode)
    if distill_loss is None:
        return kl_mode, f"{kl_mode}_kl"
    if distill_loss not in LOSSES:
        raise ValueError(f"distill_loss must be one of {LOSSES}, got {distill_loss!r}.")
    if distill_loss.endswith("_kl"):
        implied = distill_loss[: -len("_kl")]
        if kl_mode != "forward" and kl_mode != implied:
            raise ValueError(f"kl_mode={kl_mode!r} contradicts distill_loss={distill_loss!r}; give only one of them.")
        return implied, distill_loss
    return kl_mode, distill_loss


def check_jsd_beta(beta: float) -> float:
    """``beta`` as a ``float`` if it is a number in [0, 1].

    :param beta: β of the generalised Jensen-Shannon divergence
    """
    if not (isinstance(beta, (int, float)) and 0.0 <= beta <= 1.0):
        raise ValueError(f"jsd_beta must be a number in [0, 1], got {beta!r}.")
    return float(beta)


@dataclass(frozen=True)
class DistillationLoss:
    """The distillation term's divergence between a teacher and a student, chosen once for the pair.

    Build it with :meth:`for_teacher`. It is not saved with the student (it holds the teacher's layout).

    :param name: one of ``LOSSES``
    :param kl_mode: ``"forward"`` or ``"reverse"``, consistent with ``name``
    :param jsd_beta: β of ``jsd``
    :param student_spec: the layout of the student's parameters (and of a distribution teacher's labels)
    :param teacher_spec: the layout of the teacher's labels
    :param units: maps means and deterministic actions to [-1, 1] units (action-matching losses only)
    :param teacher_squashed: whether the teacher squashes its Gaussian with tanh
    :param student_squashed: whether the student does
    """

    name: str
    kl_mode: str
    jsd_beta: float
    student_spec: ActionParamSpec
    teacher_spec: ActionParamSpec
    units: ActionUnits | None = None
    teacher_squashed: bool = False
    student_squashed: bool = False

    @classmethod
    def for_teacher(
        cls,
        teacher: Teacher,
        action_space: spaces.Space,
        student_squashed: bool,
        kl_mode: str = "forward",
        distill_loss: str | None = None,
        jsd_beta: float = 0.5,
    ) -> DistillationLoss:
        """The loss between ``teacher`` and a student acting in ``action_space``.

        :param teacher: the teacher, whose spaces already fit the student's
        :param action_space: the student's action space
        :param student_squashed: whether the student squashes its actions with tanh
        :param kl_mode: ``"forward"`` or ``"reverse"``
        :param distill_loss: one of ``LOSSES``; ``None``: the KL that ``kl_mode`` names, or ``"mse"`` for a
            teacher without an action distribution
        :param jsd_beta: β of ``jsd``, in [0, 1]
        :raises ValueError: for a loss that cannot compare this teacher and student
        """
        kl_mode, name = check_distill_loss(kl_mode, distill_loss)
        jsd_beta = check_jsd_beta(jsd_beta)
        deterministic = teacher.spec.family == DETERMINISTIC
        if deterministic and distill_loss is None:
            name = "mse"
        if deterministic and name not in ACTION_MATCHING_LOSSES:
            raise ValueError(
                f"The teacher ({teacher.kind}) has no action distribution to compare, so distill_loss={name!r} "
                f"cannot be used; use an action-matching loss: {' or '.join(map(repr, ACTION_MATCHING_LOSSES))} (default)."
            )
        if name in ACTION_MATCHING_LOSSES and not isinstance(action_space, spaces.Box):
            raise ValueError(
                f"distill_loss={name!r} matches continuous actions, but the action space is {action_space}; "
                f"use one of {DISTRIBUTION_LOSSES}."
            )
        if not deterministic and teacher.squash_output != student_squashed:
            raise ValueError(
                f"The teacher {'squashes' if teacher.squash_output else 'does not squash'} its actions with tanh and the "
                f"student {'does' if student_squashed else 'does not'}; their action distributions cannot be "
                "compared. Use the same squash_output setting for both."
            )
        return cls(
            name=name,
            kl_mode=kl_mode,
            jsd_beta=jsd_beta,
            student_spec=ActionParamSpec.for_action_space(action_space),
            teacher_spec=teacher.spec,
            units=ActionUnits(action_space) if isinstance(action_space, spaces.Box) else None,
            teacher_squashed=teacher.squash_output,
            student_squashed=student_squashed,
        )

    @property
    def is_kl(self) -> bool:
        return self.name.endswith("_kl")

    @property
    def joint_gaussian_kl_mode(self) -> str | None:
        """``kl_mode`` when the loss is a KL between Gaussians, which ``student_terms`` computes jointly; else ``None``."""
        return self.kl_mode if self.is_kl and self.student_spec.family == GAUSSIAN else None

    def __call__(self, teacher_params: th.Tensor, student_params: th.Tensor) -> th.Tensor:
        """The unweighted loss at each state, ``[batch]``.

        :param teacher_params: the teacher's labels, ``[batch, teacher_spec.n_params]``
        :param student_params: the student's flat parameters, ``[batch, student_spec.n_params]``
        """
        if self.units is not None and self.name in ACTION_MATCHING_LOSSES:
            return action_matching_loss(
                self.name,
                self.units(teacher_params, self.teacher_spec, self.teacher_squashed),
                self.units(student_params, self.student_spec, self.student_squashed),
            )
        return distillation_loss(self.name, teacher_params, student_params, self.student_spec, self.jsd_beta)

    def teacher_kl(
        self, divergence: th.Tensor, teacher_params: th.Tensor, student_params: th.Tensor | None
    ) -> th.Tensor | None:
        """The mean KL logged as ``train/teacher_kl``: the divergence itself when it is a KL, else the forward
        KL; ``None`` for a teacher without an action distribution.

        :param divergence: this loss on the minibatch, ``[batch]``
        :param teacher_params: the teacher's labels
        :param student_params: the student's parameters; may be ``None`` only when the loss is a KL
        """
        if self.teacher_spec.family == DETERMINISTIC:
            return None
        with th.no_grad():
            if self.is_kl:
                return divergence.detach().mean()
            assert student_params is not None
            return kl_divergence(teacher_params, student_params, self.student_spec).mean()


# ---------------------------------------------------------------------- the losses


def distillation_loss(
    name: str, teacher: th.Tensor, student: th.Tensor, spec: ActionParamSpec, jsd_beta: float = 0.5
) -> th.Tensor:
    """The distribution loss ``name`` at each state, ``[batch]``.

    :param name: one of ``DISTRIBUTION_LOSSES``
    :param teacher: the teacher's parameters, ``[batch, spec.n_params]``
    :param student: the student's parameters, same shape
    :param spec: the layout of both
    :param jsd_beta: β of ``jsd``
    """
    if name == "forward_kl":
        return kl_divergence(teacher, student, spec)
    if name == "reverse_kl":
        return kl_divergence(student, teacher, spec)
    if name == "jsd":
        return generalized_jsd(teacher, student, spec, jsd_beta)
    if name == "nll":
        return teacher_mode_nll(teacher, student, spec)
    raise ValueError(f"distill_loss must be one of {DISTRIBUTION_LOSSES}, got {name!r}.")


def distillation_kl(teacher: th.Tensor, student: th.Tensor, spec: ActionParamSpec, kl_mode: str) -> th.Tensor:
    """KL(teacher || student) for ``kl_mode="forward"``, KL(student || teacher) for ``"reverse"``, ``[batch]``."""
    return distillation_loss(f"{check_kl_mode(kl_mode)}_kl", teacher, student, spec)


def action_matching_loss(name: str, teacher_actions: th.Tensor, student_actions: th.Tensor) -> th.Tensor:
    """``mse`` or ``huber`` at each state, ``[batch]``, between actions in the same units ``[batch, d]``."""
    if name == "mse":
        return (student_actions - teacher_actions).pow(2).sum(dim=1)
    if name == "huber":
        return F.huber_loss(student_actions, teacher_actions, reduction="none", delta=HUBER_DELTA).sum(dim=1)
    raise ValueError(f"An action-matching loss is one of {ACTION_MATCHING_LOSSES}, got {name!r}.")


def kl_divergence(p: th.Tensor, q: th.Tensor, spec: ActionParamSpec) -> th.Tensor:
    """KL(p || q) per row, shape ``[batch]``.

    :param p: parameters of the first distribution, ``[batch, spec.n_params]`` (for categorical
        families: log-probabilities, normalised over each sub-action)
    :param q: parameters of the second distribution, same shape
    :param spec: the layout of both
    """
    if spec.family == GAUSSIAN:
        return _gaussian_kl(p, q).sum(dim=1)
    if spec.family == CATEGORICAL:  # the common case, without the per-factor bookkeeping
        return _categorical_kl(p, q)
    if spec.family in (MULTI_CATEGORICAL, BERNOULLI):
        batch = p.shape[0]
        factors = [
            _per_state(_categorical_kl(log_p, log_q), batch)
            for log_p, log_q in zip(_categorical_rows(p, spec), _categorical_rows(q, spec), strict=True)
        ]
        total = factors[0]
        for factor in factors[1:]:
            total = total + factor
        return total
    raise ValueError(f"Unknown distribution family {spec.family!r}")


def _categorical_kl(log_p: th.Tensor, log_q: th.Tensor) -> th.Tensor:
    """KL between rows of log-probabilities, over the last dimension."""
    return (log_p.exp() * (log_p - log_q)).sum(dim=-1)


def _gaussian_kl(p: th.Tensor, q: th.Tensor) -> th.Tensor:
    """KL per action dimension, ``[batch, d]``, of diagonal Gaussians given as ``[means, log-stds]``."""
    mean_p, log_std_p = p.chunk(2, dim=1)
    mean_q, log_std_q = q.chunk(2, dim=1)
    var_ratio = th.exp(2 * (log_std_p - log_std_q))
    scaled_mean_gap = (mean_p - mean_q) * th.exp(-log_std_q)
    return log_std_q - log_std_p + 0.5 * (var_ratio + scaled_mean_gap.pow(2) - 1)


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


def generalized_jsd(teacher: th.Tensor, student: th.Tensor, spec: ActionParamSpec, beta: float) -> th.Tensor:
    """GKD's β-JSD between teacher and student at each state, ``[batch]`` (see the module's docstring)."""
    beta = check_jsd_beta(beta)
    if beta == 0.0:
        return kl_divergence(teacher, student, spec)
    if beta == 1.0:
        return kl_divergence(student, teacher, spec)
    batch = teacher.shape[0]
    if spec.family == GAUSSIAN:
        return _gaussian_jsd_monte_carlo(teacher, student, beta)
    total = th.zeros(batch, device=teacher.device)
    for log_t, log_s in zip(_categorical_rows(teacher, spec), _categorical_rows(student, spec), strict=True):
        log_m = th.logsumexp(th.stack([log_t + math.log(beta), log_s + math.log(1 - beta)]), dim=0)
        jsd = beta * _categorical_kl(log_t, log_m) + (1 - beta) * _categorical_kl(log_s, log_m)
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
    """−log π_student(a* | s) of the teacher's most probable action a*, ``[batch]``."""
    if spec.family == GAUSSIAN:
        mean_t, _ = teacher.chunk(2, dim=1)
        mean_s, log_std_s = student.chunk(2, dim=1)
        return -_gaussian_log_prob(mean_t.unsqueeze(0), mean_s, log_std_s).squeeze(0)
    batch = teacher.shape[0]
    total = th.zeros(batch, device=teacher.device)
    for log_t, log_s in zip(_categorical_rows(teacher, spec), _categorical_rows(student, spec), strict=True):
        mode = log_t.argmax(dim=-1, keepdim=True)
        total = total - _per_state(log_s.gather(-1, mode), batch)
    return total
