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
  the standard deviation is the state-dependent one, so the marginal at each state is exact).
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


@dataclass(frozen=True)
class ActionParamSpec:
    """Which family a flat parameter tensor belongs to and how it is laid out.

    :param family: one of ``categorical``, ``multi_categorical``, ``bernoulli``, ``gaussian``
    :param action_dims: ``(n,)`` for categorical and bernoulli, ``nvec`` for multi_categorical,
        ``(d,)`` for gaussian
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
        return self.family != GAUSSIAN

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
