"""A teacher that is a function: a scripted controller, a heuristic, or a policy from outside SB3.

``CallableTeacher(act, observation_space, action_space)`` calls ``act(observations)`` on a batch of raw
observations (``[batch, *observation_space.shape]``) and takes the actions it returns as its labels:

- discrete actions: a distribution certain of the action (log-probabilities 0 and -20 before
  normalisation), so that the forward KL the student minimises is the cross-entropy of the teacher's
  action (behaviour cloning's loss);
- continuous actions: the action itself, in SB3's [-1, 1]-scaled units, matched by ``mse`` or ``huber`` as
  a TD3 teacher's is.

A function has no value function, so it teaches PPD, whose critic learns from the rewards; student-distill
and teacher-distill, which regress the teacher's value, refuse it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy

from sb3_distill.common.action_params import DETERMINISTIC, ActionParamSpec
from sb3_distill.common.observation_normalizer import Obs, observation_count
from sb3_distill.common.teacher import Teacher

__all__ = ["CallableTeacher"]

#: The log-probability (before normalisation) of the actions a discrete callable teacher does not take.
OTHER_ACTIONS_LOGIT = -20.0


class CallableTeacher(Teacher):
    """A teacher whose actions come from a function of the observations.

    :param act: maps a batch of raw observations to a batch of actions (ints for ``Discrete``, the
        environment's units for ``Box``)
    :param observation_space: what it observes
    :param action_space: what it acts in: ``Discrete``, or a ``Box`` with finite bounds
    :param name: how messages and run records name it
    :raises ValueError: another action space, or a ``Box`` with an infinite bound
    """

    has_values = False

    def __init__(
        self,
        act: Callable[[Obs], np.ndarray],
        observation_space: spaces.Space,
        action_space: spaces.Space,
        name: str | None = None,
    ):
        if not callable(act):
            raise ValueError(f"CallableTeacher takes a function of the observations, got {type(act).__name__}.")
        box = isinstance(action_space, spaces.Box)
        if not (isinstance(action_space, spaces.Discrete) or box):
            raise ValueError(f"CallableTeacher teaches Discrete or Box actions, got {action_space}.")
        if isinstance(action_space, spaces.Box) and not (
            np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()
        ):
            raise ValueError(
                f"CallableTeacher scales Box actions to [-1, 1] with the space's bounds, and {action_space} has an "
                "infinite one; give a Box with finite bounds."
            )
        self.function = act
        self._observation_space = observation_space
        self._action_space = action_space
        self.obs_normalizer = None  # it reads the observations the student reads
        self.source = name or getattr(act, "__name__", type(act).__name__)
        self.spec = (
            ActionParamSpec(DETERMINISTIC, (spaces.flatdim(action_space),))
            if box
            else ActionParamSpec.for_action_space(action_space)
        )
        self.device = th.device("cpu")

    @property
    def kind(self) -> str:
        return f"CallableTeacher({self.source})"

    @property
    def observation_space(self) -> spaces.Space:
        return self._observation_space

    @property
    def action_space(self) -> spaces.Space:
        return self._action_space

    @property
    def squash_output(self) -> bool:
        return isinstance(self._action_space, spaces.Box)  # its Box labels are in [-1, 1], as a TD3 teacher's

    def to(self, device: th.device | str) -> Teacher:
        self.device = th.device(device)
        return self

    def policies(self) -> list[BasePolicy]:
        return []

    def _actions(self, obs: Obs) -> np.ndarray:
        actions = np.asarray(self.function(obs))
        n = observation_count(obs)
        expected = (n,) if isinstance(self._action_space, spaces.Discrete) else (n, *(self._action_space.shape or ()))
        if actions.shape != expected:
            raise ValueError(
                f"The teacher function {self.source} returned actions of shape {actions.shape} for {n} observations; "
                f"expected {expected}."
            )
        return actions

    def _labels(self, actions: np.ndarray) -> th.Tensor:
        if isinstance(self._action_space, spaces.Discrete):
            logits = th.full((len(actions), int(self._action_space.n)), OTHER_ACTIONS_LOGIT, device=self.device)
            logits[th.arange(len(actions)), th.as_tensor(actions, dtype=th.long, device=self.device)] = 0.0
            return th.log_softmax(logits, dim=1)
        low, high = self._action_space.low, self._action_space.high  # type: ignore[attr-defined]
        scaled = 2.0 * (np.clip(actions, low, high) - low) / (high - low) - 1.0
        return th.as_tensor(scaled.reshape(len(actions), -1), dtype=th.float32, device=self.device)

    @th.no_grad()
    def label(self, obs: Obs, with_values: bool = False) -> tuple[th.Tensor, th.Tensor | None]:
        if with_values:
            raise ValueError(f"{self.kind} has no value function; PPD learns its critic from the rewards.")
        return self._labels(self._actions(obs)), None

    @th.no_grad()
    def act(self, obs: Obs, episode_starts: np.ndarray | None = None) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        actions = self._actions(obs)
        labels = self._labels(actions)
        taken = th.as_tensor(actions, device=self.device) if isinstance(self._action_space, spaces.Discrete) else labels
        return taken, labels, th.zeros(len(actions), device=self.device)

    def predict(
        self,
        observation: Obs,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """SB3's ``predict``, so that ``evaluate_policy(teacher, env)`` works."""
        single = isinstance(observation, np.ndarray) and observation.shape == self._observation_space.shape
        batch = observation[None] if single else observation  # type: ignore[index]
        actions = self._actions(batch)
        return (actions[0] if single else actions), None
