"""A teacher trained on its last N observations (SB3's ``VecFrameStack``, the RL Zoo's ``frame_stack``).

Such a teacher is given one observation of each state the student visits, as every teacher is, and stacks
them itself: its stack of each environment advances with every collected transition, in time order, and is
emptied where an episode starts, as ``VecFrameStack`` empties it at a reset. The frames are normalised with
the teacher's statistics before they are stacked, because the RL Zoo (and SB3's documentation) put
``VecFrameStack`` on top of ``VecNormalize``: the statistics are of one observation, and the empty places of
a stack are zeros in the normalised space.

Observations are vectors (a ``Box`` of one dimension), stacked along their only axis, oldest first, as
``VecFrameStack`` stacks them. Atari's image stacks are the suite's own (``sb3_distill.envs.atari``) and need
no teacher of this kind.
"""

from __future__ import annotations

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.utils import obs_as_tensor

from sb3_distill.common.observation_normalizer import Obs
from sb3_distill.common.teacher import Teacher

__all__ = ["FrameStackedTeacher", "frame_stacked"]


class FrameStackedTeacher(Teacher):
    """A feed-forward teacher whose policy reads its last ``n_stack`` observations, stacked.

    It labels a rollout in time order (:meth:`label_sequence`) and acts with ``episode_starts``, as a
    recurrent teacher does: its stacks are its state. ``observation_space`` is the space of one
    observation, the one the student's rollouts give it.

    :param teacher: the teacher of the stacked observations (its policy, statistics and family)
    :param n_stack: how many observations its policy reads
    :raises ValueError: the teacher is recurrent, its observations are not vectors, or their length is not
        a multiple of ``n_stack``
    """

    recurrent = True

    def __init__(self, teacher: Teacher, n_stack: int):
        if teacher.recurrent:
            raise ValueError(
                f"A {teacher.kind} teacher carries its own memory; a frame stack on top of it is not supported: "
                "give frame_stack=1."
            )
        stacked = teacher.policy.observation_space
        if not isinstance(stacked, spaces.Box) or len(stacked.shape) != 1:
            raise ValueError(
                f"A frame-stacked teacher reads vectors stacked end to end, got observations {stacked}; image stacks "
                "are the environment's (Atari's suite stacks 4 frames for teacher and student alike)."
            )
        if n_stack < 2 or stacked.shape[0] % n_stack:
            raise ValueError(
                f"The teacher reads {stacked.shape[0]} entries, which are not {n_stack} stacked observations; give "
                f"the frame stack it was trained with (a divisor of {stacked.shape[0]}, at least 2)."
            )
        # the inner teacher is frozen already: take its parts rather than freezing again
        self.inner = teacher
        self.policy = teacher.policy
        self.obs_normalizer = teacher.obs_normalizer
        self.source = teacher.source
        self.spec = teacher.spec
        self.n_stack = n_stack
        size = stacked.shape[0] // n_stack
        self._frame_space = spaces.Box(
            _frame_bounds(stacked.low, n_stack), _frame_bounds(stacked.high, n_stack), (size,), stacked.dtype
        )  # type: ignore[arg-type]
        self._stacks: np.ndarray | None = None  # [n_envs, n_stack - 1, size]: each environment's earlier frames

    @property
    def kind(self) -> str:
        return f"{self.inner.kind} over {self.n_stack} stacked observations"

    @property
    def observation_space(self) -> spaces.Space:
        return self._frame_space

    @property
    def action_noise(self) -> float:
        """σ of the noise a TD3 or DDPG teacher acts with (``DeterministicActorTeacher.action_noise``): the stacked
        teacher's own, so that setting it here reaches the teacher that acts."""
        if not hasattr(self.inner, "action_noise"):
            raise AttributeError(f"A {self.inner.kind} teacher acts without added noise: it has no action_noise.")
        return float(self.inner.action_noise)

    @action_noise.setter
    def action_noise(self, sigma: float) -> None:
        _ = self.action_noise  # refuses a teacher without one
        self.inner.action_noise = sigma  # type: ignore[attr-defined]

    def to(self, device: th.device | str) -> Teacher:
        self.inner.to(device)
        return self

    def reset_noise(self, n_envs: int) -> None:
        self.inner.reset_noise(n_envs)

    def reset_state(self, n_envs: int) -> None:
        """Empty the stacks of ``n_envs`` environments."""
        self._stacks = np.zeros((n_envs, self.n_stack - 1, self._frame_space.shape[0]), dtype=np.float32)

    def _frames(self, obs: Obs) -> np.ndarray:
        if isinstance(obs, dict):
            raise ValueError("A frame-stacked teacher reads vector observations, got a dict of them.")
        frames = self.obs_normalizer(obs) if self.obs_normalizer is not None else obs
        return np.asarray(frames, dtype=np.float32)

    def _stack(self, frames: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """``[n_steps, n_envs, n_stack * size]`` of one-observation ``frames`` ``[n_steps, n_envs, size]``, advancing
        the stacks; ``starts`` ``[n_steps, n_envs]`` says where an episode starts (its stack is emptied first)."""
        n_steps, n_envs = starts.shape
        if self._stacks is None or len(self._stacks) != n_envs:
            self.reset_state(n_envs)
        assert self._stacks is not None
        stacks = self._stacks
        stacked = np.empty((n_steps, n_envs, self.n_stack * frames.shape[-1]), dtype=np.float32)
        for step in range(n_steps):
            stacks[starts[step].astype(bool)] = 0.0
            window = np.concatenate([stacks, frames[step][:, None]], axis=1)  # oldest first, as VecFrameStack
            stacked[step] = window.reshape(n_envs, -1)
            stacks = window[:, 1:]
        self._stacks = np.ascontiguousarray(stacks)
        return stacked

    @th.no_grad()
    def label_sequence(
        self, obs: Obs, episode_starts: np.ndarray, with_values: bool = False
    ) -> tuple[th.Tensor, th.Tensor | None]:
        n_steps, n_envs = episode_starts.shape
        frames = self._frames(obs).reshape(n_steps, n_envs, -1)  # step-major, as rollout buffers flatten it
        stacked = self._stack(frames, episode_starts).reshape(n_steps * n_envs, -1)
        return self.inner._label(obs_as_tensor(stacked, self.policy.device), with_values)  # type: ignore[arg-type]

    @th.no_grad()
    def act(self, obs: Obs, episode_starts: np.ndarray | None = None) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        frames = self._frames(obs)
        starts = np.zeros(len(frames)) if episode_starts is None else np.asarray(episode_starts, dtype=float)
        stacked = self._stack(frames[None], starts.reshape(1, -1))[0]
        return self.inner._act(obs_as_tensor(stacked, self.policy.device))  # type: ignore[arg-type]

    def predict(
        self,
        observation: Obs,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """SB3's ``predict`` on raw observations: the stacks travel in ``state``, as an LSTM's would, so that
        ``evaluate_policy(teacher, env)`` plays as the teacher played behind ``VecFrameStack``."""
        frames = self._frames(observation)
        single = frames.ndim == 1
        frames = frames.reshape(1, -1) if single else frames
        n_envs = len(frames)
        kept = self._stacks
        self._stacks = state[0].copy() if state is not None else None
        # without a state, every environment starts afresh; with one and no episode_start, none does
        if episode_start is not None:
            starts = np.asarray(episode_start, dtype=float)
        else:
            starts = np.ones(n_envs) if state is None else np.zeros(n_envs)
        try:
            stacked = self._stack(frames[None], starts.reshape(1, -1))[0]
            new_state: tuple[np.ndarray, ...] = (self._stacks.copy(),)  # type: ignore[union-attr]
        finally:
            self._stacks = kept  # a prediction does not move the stacks of the rollouts
        actions, _ = self.policy.predict(stacked[0] if single else stacked, None, None, deterministic)
        return actions, new_state


def frame_stacked(teacher: Teacher, n_stack: int) -> Teacher:
    """``teacher`` reading its last ``n_stack`` observations (itself when ``n_stack`` is 1)."""
    return teacher if n_stack == 1 else FrameStackedTeacher(teacher, n_stack)


def _frame_bounds(bounds: np.ndarray, n_stack: int) -> np.ndarray:
    """One observation's bounds in a stack's: SB3's ``VecFrameStack`` repeats each entry's bound ``n_stack``
    times in its space (``np.repeat``) while it stacks the observations themselves end to end."""
    repeated = bounds[::n_stack]
    return repeated if np.array_equal(np.repeat(repeated, n_stack), bounds) else bounds[-len(bounds) // n_stack :]
