"""Student sizes: the paper's Table 4 MuJoCo counts, and ~0.25x / ~3x for teachers of other widths."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy

from sb3_distill.student_sizes import policy_parameter_count, student_policy_kwargs

# (observation dim, action dim) of Ant, HalfCheetah, Hopper and Humanoid
MUJOCO = [(27, 8), (17, 6), (11, 3), (376, 17)]


def policy(obs_dim: int, action_space: spaces.Space, **kwargs) -> ActorCriticPolicy:
    return ActorCriticPolicy(spaces.Box(-np.inf, np.inf, (obs_dim,)), action_space, lambda _: 3e-4, **kwargs)


def test_paper_table_4_mujoco_counts():
    """Mean policy-network parameters over the four MuJoCo tasks: 22.7k / 95.8k / 322.7k in the paper."""
    counts = {"smaller": [], "same": [], "larger": []}
    for obs_dim, act_dim in MUJOCO:
        action_space = spaces.Box(-1, 1, (act_dim,))
        teacher = policy(obs_dim, action_space, net_arch=dict(pi=[256, 256], vf=[256, 256]))
        for size in counts:
            counts[size].append(policy_parameter_count(policy(obs_dim, action_space, **student_policy_kwargs(teacher, size))))
    assert round(np.mean(counts["same"])) == 95_825
    assert round(np.mean(counts["smaller"])) == 22_737
    assert round(np.mean(counts["larger"])) == 322_705


@pytest.mark.parametrize("net_arch", [[64, 64], [32], [400, 300]])
@pytest.mark.parametrize("action_space", [spaces.Discrete(2), spaces.Box(-1, 1, (4,))], ids=["discrete", "box"])
def test_scaled_students_hit_target_ratios(net_arch, action_space):
    teacher = policy(4, action_space, net_arch=net_arch)
    teacher_count = policy_parameter_count(teacher)
    ratios = {
        size: policy_parameter_count(policy(4, action_space, **student_policy_kwargs(teacher, size))) / teacher_count
        for size in ("smaller", "same", "larger")
    }
    assert ratios["same"] == 1.0
    assert 0.2 <= ratios["smaller"] <= 0.3, ratios
    assert 2.7 <= ratios["larger"] <= 3.3, ratios


def test_unknown_size_is_named():
    with pytest.raises(ValueError, match="'huge'"):
        student_policy_kwargs(policy(4, spaces.Discrete(2)), "huge")
