"""Student network sizes relative to the teacher (paper §5, Table 4), for MLP policies.

The paper's MuJoCo presets are exact: a 2x256 teacher gets a (128, 64) smaller student
(~0.25x the policy parameters) and a 2x512 larger one (~3x). For teachers of other widths, every
hidden layer is scaled by one factor chosen so that the policy network has ~0.25x or ~3x the
teacher's parameters. Parameters are counted as in the paper: the policy network only (its feature
extractor, hidden layers, action head and the state-independent log-std), not the critic. For
teachers of other families the policy network is the Q-network of DQN (the quantile network of
QR-DQN) and the actor of SAC, TD3, DDPG and TQC; their target networks are not counted.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.torch_layers import FlattenExtractor

from sb3_distill.networks import ImpalaCNN, MinAtarCNN, SmallNatureCNN

STUDENT_SIZES = ("smaller", "same", "larger")
TARGET_RATIOS = {"smaller": 0.25, "same": 1.0, "larger": 3.0}
PAPER_MLP_TEACHER = [256, 256]
PAPER_MLP_STUDENTS = {"smaller": [128, 64], "same": [256, 256], "larger": [512, 512]}


def _policy_network(policy: BasePolicy) -> th.nn.Module | None:
    """The network that acts, for non-actor-critic policies; ``None`` for an ``ActorCriticPolicy``."""
    if isinstance(policy, ActorCriticPolicy):
        return None
    for name in ("q_net", "quantile_net", "actor"):
        network = getattr(policy, name, None)
        if isinstance(network, th.nn.Module):
            return network
    raise ValueError(f"Cannot tell which part of a {type(policy).__name__} is its policy network.")


def policy_parameter_count(policy: BasePolicy) -> int:
    """Parameters of the policy network alone (what the paper's Table 4 counts)."""
    network = _policy_network(policy)
    if network is not None:
        return sum(p.numel() for p in network.parameters())
    assert isinstance(policy, ActorCriticPolicy)
    modules = [policy.pi_features_extractor, policy.mlp_extractor.policy_net, policy.action_net]
    count = sum(p.numel() for module in modules for p in module.parameters())
    log_std = getattr(policy, "log_std", None)
    return count + (log_std.numel() if log_std is not None else 0)


def _hidden_layers(policy: BasePolicy) -> tuple[list[int], list[int]]:
    """Hidden widths of the teacher's policy network and of its critic (value or Q network)."""
    # Every SB3 policy class sets ``net_arch`` (a list, or a dict of lists), but BasePolicy does not declare it.
    net_arch: Any = policy.net_arch
    if isinstance(net_arch, dict):
        pi = list(net_arch.get("pi", []))
        return pi, list(net_arch.get("vf", net_arch.get("qf", pi)))
    return list(net_arch), list(net_arch)


def _features_extractor(policy: BasePolicy) -> th.nn.Module:
    if isinstance(policy, ActorCriticPolicy):
        return policy.pi_features_extractor
    network = _policy_network(policy)
    assert network is not None  # only an ActorCriticPolicy has no separate policy network
    extractor = network.features_extractor
    if not isinstance(extractor, th.nn.Module):
        raise ValueError(f"The policy network of a {type(policy).__name__} has no features extractor module.")
    return extractor


def _action_outputs(policy: BasePolicy) -> int:
    """Width of the policy network's output layer for this action space (as an SB3 student has it)."""
    space = policy.action_space
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(np.sum(space.nvec))
    if space.shape is None:
        raise ValueError(f"Cannot size a policy output for the action space {space}: it has no shape.")
    return int(np.prod(space.shape))


def _mlp_count(in_dim: int, hidden: list[int], out_dim: int) -> int:
    dims = [in_dim, *hidden, out_dim]
    return sum(a * b + b for a, b in pairwise(dims))


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


def student_policy_kwargs(teacher_policy: BasePolicy, size: str) -> dict[str, Any]:
    """``policy_kwargs`` for an actor-critic student of the named size, relative to ``teacher_policy``.

    :param teacher_policy: the teacher's policy (MLP on flat observations; any teacher family)
    :param size: ``smaller`` (~0.25x), ``same`` or ``larger`` (~3x)
    """
    if size not in STUDENT_SIZES:
        raise ValueError(f"Student size must be one of {STUDENT_SIZES}, got {size!r}.")
    extractor = _features_extractor(teacher_policy)
    if not isinstance(extractor, FlattenExtractor):
        return _image_student_kwargs(teacher_policy, extractor, size)
    pi, vf = _hidden_layers(teacher_policy)
    kwargs: dict[str, Any] = {"activation_fn": teacher_policy.activation_fn}
    if size == "same":
        kwargs["net_arch"] = {"pi": pi, "vf": vf}
    elif pi == PAPER_MLP_TEACHER and vf == PAPER_MLP_TEACHER:
        kwargs["net_arch"] = {"pi": PAPER_MLP_STUDENTS[size], "vf": PAPER_MLP_STUDENTS[size]}
    else:
        in_dim = extractor.features_dim
        log_std = getattr(teacher_policy, "log_std", None)
        extra = log_std.numel() if isinstance(log_std, th.Tensor) else 0
        out_dim = _action_outputs(teacher_policy)
        kwargs["net_arch"] = {
            "pi": scaled_layers(pi, in_dim, out_dim, extra, TARGET_RATIOS[size]),
            "vf": scaled_layers(vf, in_dim, 1, 0, TARGET_RATIOS[size]),
        }
    return kwargs


#: The paper's image presets (§5): IMPALA-CNN {16, 32, 32} + 256 teachers; Nature-CNN {32, 32, 32} + 128
#: smaller students (~0.25x); IMPALA-CNN {32, 64, 64} + 1024 larger students (~7.5x).
PAPER_IMPALA_TEACHER = {"conv_filters": (16, 32, 32), "features_dim": 256}
PAPER_IMAGE_STUDENTS = {
    "smaller": (SmallNatureCNN, {"conv_filters": (32, 32, 32), "features_dim": 128}),
    "larger": (ImpalaCNN, {"conv_filters": (32, 64, 64), "features_dim": 1024}),
}
#: MinAtar, the CPU stand-in: the MinAtar paper's network (16 filters, FC 128) teaches; students keep its shape.
MINATAR_TEACHER = {"filters": 16, "features_dim": 128}
MINATAR_STUDENTS = {"smaller": {"filters": 8, "features_dim": 64}, "larger": {"filters": 32, "features_dim": 512}}


def teacher_policy_kwargs(suite: str) -> dict[str, Any]:
    """The paper's teacher network for a suite (``classic`` and ``mujoco``: MLP 2x256)."""
    if suite in ("atari", "procgen"):
        return {"features_extractor_class": ImpalaCNN, "features_extractor_kwargs": dict(PAPER_IMPALA_TEACHER), "net_arch": []}
    if suite == "minatar":
        return {"features_extractor_class": MinAtarCNN, "features_extractor_kwargs": dict(MINATAR_TEACHER), "net_arch": []}
    return {"net_arch": {"pi": list(PAPER_MLP_TEACHER), "vf": list(PAPER_MLP_TEACHER)}, "activation_fn": th.nn.ReLU}


def _extractor_kwargs(extractor: ImpalaCNN | SmallNatureCNN | MinAtarCNN) -> dict[str, Any]:
    if isinstance(extractor, MinAtarCNN):
        return {"filters": extractor.filters, "features_dim": extractor.features_dim}
    return {"conv_filters": tuple(extractor.conv_filters), "features_dim": extractor.features_dim}


def _image_student_kwargs(teacher_policy: BasePolicy, extractor: th.nn.Module, size: str) -> dict[str, Any]:
    if not isinstance(extractor, (ImpalaCNN, SmallNatureCNN, MinAtarCNN)):
        raise ValueError(
            "Student size presets cover MLP teachers and the paper's image networks (ImpalaCNN, SmallNatureCNN, "
            f"MinAtarCNN); this teacher uses {type(extractor).__name__}. Pass policy_kwargs for the student yourself."
        )
    kwargs: dict[str, Any] = {
        "net_arch": [],
        "share_features_extractor": getattr(teacher_policy, "share_features_extractor", True),
    }
    teacher_kwargs = _extractor_kwargs(extractor)
    if size == "same":
        return {**kwargs, "features_extractor_class": type(extractor), "features_extractor_kwargs": teacher_kwargs}
    if isinstance(extractor, MinAtarCNN):
        if teacher_kwargs != MINATAR_TEACHER:
            raise ValueError(
                f"MinAtar presets assume the {MINATAR_TEACHER} teacher, got {teacher_kwargs}; pass policy_kwargs."
            )
        return {**kwargs, "features_extractor_class": MinAtarCNN, "features_extractor_kwargs": dict(MINATAR_STUDENTS[size])}
    if not isinstance(extractor, ImpalaCNN) or teacher_kwargs != PAPER_IMPALA_TEACHER:
        raise ValueError(
            f"Image presets assume the paper's ImpalaCNN {PAPER_IMPALA_TEACHER} teacher, got {type(extractor).__name__} "
            f"{teacher_kwargs}; pass policy_kwargs for the student yourself."
        )
    extractor_class, extractor_kwargs = PAPER_IMAGE_STUDENTS[size]
    return {**kwargs, "features_extractor_class": extractor_class, "features_extractor_kwargs": dict(extractor_kwargs)}
