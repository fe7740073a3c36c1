"""Student network sizes relative to the teacher (paper §5, Table 4), for MLP policies.

The paper's MuJoCo presets are exact: a 2x256 teacher gets a (128, 64) smaller student
(~0.25x the policy parameters) and a 2x512 larger one (~3x). For teachers of other widths, every
hidden layer is scaled by one factor chosen so that the policy network has ~0.25x or ~3x the
teacher's parameters. Parameters are counted as in the paper: the policy network only (its feature
extractor, hidden layers, action head and the state-independent log-std), not the critic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import FlattenExtractor

STUDENT_SIZES = ("smaller", "same", "larger")
TARGET_RATIOS = {"smaller": 0.25, "same": 1.0, "larger": 3.0}
PAPER_MLP_TEACHER = [256, 256]
PAPER_MLP_STUDENTS = {"smaller": [128, 64], "same": [256, 256], "larger": [512, 512]}


def policy_parameter_count(policy: ActorCriticPolicy) -> int:
    """Parameters of the policy network alone (what the paper's Table 4 counts)."""
    modules = [policy.pi_features_extractor, policy.mlp_extractor.policy_net, policy.action_net]
    count = sum(p.numel() for module in modules for p in module.parameters())
    log_std = getattr(policy, "log_std", None)
    return count + (log_std.numel() if log_std is not None else 0)


def _hidden_layers(policy: ActorCriticPolicy) -> tuple[list[int], list[int]]:
    net_arch = policy.net_arch
    if isinstance(net_arch, dict):
        return list(net_arch.get("pi", [])), list(net_arch.get("vf", []))
    return list(net_arch), list(net_arch)


def _mlp_count(in_dim: int, hidden: list[int], out_dim: int) -> int:
    dims = [in_dim, *hidden, out_dim]
    return sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))


def scaled_layers(layers: list[int], in_dim: int, out_dim: int, extra: int, ratio: float) -> list[int]:
    """Hidden widths ``round(f * w)`` with ``f`` chosen so that the MLP has ~``ratio`` times the parameters."""
    target = ratio * (_mlp_count(in_dim, layers, out_dim) + extra)

    def count(factor: float) -> int:
        return _mlp_count(in_dim, [max(1, round(factor * w)) for w in layers], out_dim) + extra

    low, high = 1e-3, 1e3
    for _ in range(100):
        mid = float(np.sqrt(low * high))
        low, high = (mid, high) if count(mid) < target else (low, mid)
    best = min((low, high), key=lambda f: abs(count(f) - target))
    return [max(1, round(best * w)) for w in layers]


def student_policy_kwargs(teacher_policy: ActorCriticPolicy, size: str) -> dict[str, Any]:
    """``policy_kwargs`` for a student of the named size, relative to ``teacher_policy``.

    :param teacher_policy: the teacher's policy (MLP on flat observations)
    :param size: ``smaller`` (~0.25x), ``same`` or ``larger`` (~3x)
    """
    if size not in STUDENT_SIZES:
        raise ValueError(f"Student size must be one of {STUDENT_SIZES}, got {size!r}.")
    if not isinstance(teacher_policy.pi_features_extractor, FlattenExtractor):
        raise ValueError(
            "Student size presets cover MLP teachers; this teacher uses "
            f"{type(teacher_policy.pi_features_extractor).__name__}. Pass policy_kwargs for the student yourself."
        )
    pi, vf = _hidden_layers(teacher_policy)
    kwargs: dict[str, Any] = {"activation_fn": teacher_policy.activation_fn}
    if size == "same":
        kwargs["net_arch"] = {"pi": pi, "vf": vf}
    elif pi == PAPER_MLP_TEACHER and vf == PAPER_MLP_TEACHER:
        kwargs["net_arch"] = {"pi": PAPER_MLP_STUDENTS[size], "vf": PAPER_MLP_STUDENTS[size]}
    else:
        in_dim = teacher_policy.features_dim
        log_std = getattr(teacher_policy, "log_std", None)
        extra = log_std.numel() if log_std is not None else 0
        out_dim = teacher_policy.action_net.out_features
        kwargs["net_arch"] = {
            "pi": scaled_layers(pi, in_dim, out_dim, extra, TARGET_RATIOS[size]),
            "vf": scaled_layers(vf, in_dim, 1, 0, TARGET_RATIOS[size]),
        }
    return kwargs
