"""Partially observed tasks built from fully observed ones: the student reads some entries of the observation.

:class:`SplitObservation` turns a ``Box`` observation into the ``Dict`` that
:class:`~sb3_distill.common.teacher_views.ObservationGroups` splits: ``"policy"``, the entries the student
reads (what a deployed robot has, such as joint positions without velocities), and ``"privileged"``, the
full observation the teacher was trained on. :class:`SelectObservation` is the deployed environment: the
student's entries and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np
from gymnasium import spaces

STUDENT_KEY = "policy"
TEACHER_KEY = "privileged"


def _indices(space: spaces.Space, indices: Sequence[int]) -> np.ndarray:
    if not isinstance(space, spaces.Box) or len(space.shape) != 1:
        raise ValueError(f"A partial observation selects entries of a flat Box observation, got {space}.")
    chosen = np.asarray(list(indices), dtype=int)
    size = space.shape[0]
    if chosen.size == 0 or chosen.ndim != 1 or chosen.min() < -size or chosen.max() >= size:
        raise ValueError(f"Student entries {list(indices)} do not select entries of an observation of size {size}.")
    if len(np.unique(chosen % size)) != chosen.size:
        raise ValueError(f"Student entries {list(indices)} name an entry twice.")
    return chosen


def _selected_space(space: spaces.Box, chosen: np.ndarray) -> spaces.Box:
    return spaces.Box(space.low[chosen], space.high[chosen], dtype=space.dtype)  # type: ignore[arg-type]


class SelectObservation(gym.ObservationWrapper):
    """The entries ``indices`` of a flat ``Box`` observation: what the student reads, and all a deployed one has.

    :param env: a fully observed environment
    :param indices: the entries the student reads, in order
    """

    def __init__(self, env: gym.Env, indices: Sequence[int]):
        super().__init__(env)
        self.indices = _indices(env.observation_space, indices)
        self.observation_space = _selected_space(env.observation_space, self.indices)  # type: ignore[arg-type]

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.asarray(observation)[self.indices]


class SplitObservation(gym.ObservationWrapper):
    """``{"policy": observation[indices], "privileged": observation}``: the student's entries and the teacher's full view.

    :param env: a fully observed environment (the one the teacher was trained on)
    :param indices: the entries the student reads, in order
    """

    def __init__(self, env: gym.Env, indices: Sequence[int]):
        super().__init__(env)
        full = env.observation_space
        self.indices = _indices(full, indices)
        self.observation_space = spaces.Dict(
            {STUDENT_KEY: _selected_space(full, self.indices), TEACHER_KEY: full}  # type: ignore[arg-type]
        )

    def observation(self, observation: np.ndarray) -> dict[str, np.ndarray]:
        observation = np.asarray(observation)
        return {STUDENT_KEY: observation[self.indices], TEACHER_KEY: observation}
