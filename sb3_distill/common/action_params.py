"""A flat tensor view of SB3 action distributions.

The teacher's action distribution is computed once per collected transition and stored in the
rollout buffer, so it needs a representation that is a plain ``[batch, n_params]`` tensor. The same
view of the student's distribution (with gradients) lets one divergence function serve every pair of
SB3 distribution classes, including a gSDE teacher with a plain Gaussian student and vice versa.

Layouts, per family:

- ``categorical``: log-probabilities, ``[n]``;
- ``multi_categorical``: log-probabilities of each sub-space, concatenated, ``[sum(nvec)]``;
- ``bernoulli``: logits, ``[n]``;
- ``gaussian``: mean then log standard deviation, ``[2 * d]`` (DiagGaussian and gSDE alike; for gSDE
  the standard deviation is the state-dependent one, so the marginal at each state is exact);
- ``deterministic``: one action in SB3's [-1, 1]-scaled units, ``[d]``: the labels of teachers
  without an action distribution to compare (SAC, TD3, DDPG, TQC), matched by action-matching losses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import (
    BernoulliDistribution,
    CategoricalDistribution,
    DiagGaussianDistribution,
    Distribution,
    MultiCategoricalDistribution,
    StateDependentNoiseDistribution,
)

CATEGORICAL = "categorical"
MULTI_CATEGORICAL = "multi_categorical"
BERNOULLI = "bernoulli"
GAUSSIAN = "gaussian"
DETERMINISTIC = "deterministic"


@dataclass(frozen=True)
class ActionParamSpec:
    """Which family a flat parameter tensor belongs to and how it is laid out.

    :param family: one of ``categorical``, ``multi_categorical``, ``bernoulli``, ``gaussian``, ``deterministic``
    :param action_dims: ``(n,)`` for categorical and bernoulli, ``nvec`` for multi_categorical,
        ``(d,)`` for gaussian and deterministic
    """

    family: str
    action_dims: tuple[int, ...]

    @property
    def n_params(self) -> int:
        if self.family == GAUSSIAN:
            return 2 * self.action_dims[0]
        return int(sum(self.action_dims))

    @property
    def is_discrete(self) -> bool:
        return self.family not in (GAUSSIAN, DETERMINISTIC)

    @classmethod
    def for_action_space(cls, action_space: spaces.Space) -> ActionParamSpec:
        """The layout SB3's actor-critic policies use for ``action_space``."""
        if isinstance(action_space, spaces.Discrete):
            return cls(CATEGORICAL, (int(action_space.n),))
        if isinstance(action_space, spaces.MultiDiscrete):
            return cls(MULTI_CATEGORICAL, tuple(int(n) for n in np.asarray(action_space.nvec).ravel()))
        if isinstance(action_space, spaces.MultiBinary):
            return cls(BERNOULLI, (int(np.prod(action_space.shape)),))
        if isinstance(action_space, spaces.Box):
            return cls(GAUSSIAN, (int(np.prod(action_space.shape)),))
        raise ValueError(
            f"Distillation supports Discrete, MultiDiscrete, MultiBinary and Box action spaces; got {action_space}."
        )


def action_params(distribution: Distribution) -> th.Tensor:
    """Flatten an SB3 distribution (whose ``proba_distribution`` has been called) into ``[batch, n_params]``.

    Gradients flow through the result, so this serves the student as well as the teacher.
    """
    if isinstance(distribution, CategoricalDistribution):
        return distribution.distribution.logits  # torch already normalises these to log-probabilities
    if isinstance(distribution, MultiCategoricalDistribution):
        return th.cat([d.logits for d in distribution.distribution], dim=1)
    if isinstance(distribution, BernoulliDistribution):
        return distribution.distribution.logits
    if isinstance(distribution, (DiagGaussianDistribution, StateDependentNoiseDistribution)):
        normal = distribution.distribution
        return th.cat([normal.loc, normal.scale.log()], dim=1)
    raise TypeError(f"Unsupported action distribution {type(distribution).__name__}")


class ActionUnits:
    """Maps a Gaussian's mean (or a deterministic label) to the action it stands for, in SB3's [-1, 1] units.

    A policy that squashes with tanh acts with ``tanh(mean)``, already in these units; one that does not
    acts with its mean in the environment's units, rescaled with the space's bounds (SB3's
    ``scale_action``; dimensions with infinite bounds are left as they are). The bounds are turned into
    tensors once, here, since the mapping runs on every minibatch. Gradients flow through.

    :param action_space: the Box both policies act in
    """

    def __init__(self, action_space: spaces.Box):
        low = th.as_tensor(action_space.low.ravel(), dtype=th.float32)
        high = th.as_tensor(action_space.high.ravel(), dtype=th.float32)
        bounded = th.isfinite(low) & th.isfinite(high)
        self.rescales = bool(bounded.any())
        span = th.where(bounded, high - low, th.ones_like(low))
        self.centre = th.where(bounded, (high + low) / 2, th.zeros_like(low))
        self.scale = th.where(bounded, 2 / span, th.ones_like(low))

    def __call__(self, params: th.Tensor, spec: ActionParamSpec, squashed: bool) -> th.Tensor:
        """:param params: flat parameters, ``[batch, spec.n_params]``, of layout ``gaussian`` or ``deterministic``
        :param squashed: whether the policy squashes its Gaussian with tanh
        """
        if spec.family == DETERMINISTIC:
            return params
        if spec.family != GAUSSIAN:
            raise ValueError(f"Only continuous actions can be matched, got a {spec.family} distribution")
        mean = params[:, : spec.action_dims[0]]
        if squashed:
            return th.tanh(mean)
        if not self.rescales:
            return mean
        if self.centre.device != mean.device:
            self.centre, self.scale = self.centre.to(mean.device), self.scale.to(mean.device)
        return (mean - self.centre) * self.scale


def is_squashed(distribution: Distribution) -> bool:
    """Whether sampled actions pass through tanh (gSDE with ``squash_output=True``)."""
    return isinstance(distribution, StateDependentNoiseDistribution) and distribution.bijector is not None


def most_probable_action(params: th.Tensor, spec: ActionParamSpec) -> th.Tensor:
    """The mode of a discrete distribution, ``[batch, n_subactions]``."""
    if spec.family == CATEGORICAL:
        return params.argmax(dim=1, keepdim=True)
    if spec.family == MULTI_CATEGORICAL:
        return th.stack([p.argmax(dim=1) for p in th.split(params, list(spec.action_dims), dim=1)], dim=1)
    if spec.family == BERNOULLI:
        return (params > 0).long()
    raise ValueError("A most probable action is only defined here for discrete distributions")
