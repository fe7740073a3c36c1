"""The teacher sees more than the student: privileged observations that only the teacher reads.

A teacher trained with privileged information (the full simulator state, terrain heights, object poses)
is distilled into a student that reads only what it will have when deployed. A :class:`TeacherView`
wraps the vectorised environment: the student (its policy, its rollouts, its saved zip) sees the
wrapper's ``observation_space``, and the distillation algorithms find the wrapper below any others
(``VecNormalize``, ``VecFrameStack``) and read the teacher's view of the same states from it. Two forms,
as the robotics frameworks have them:

- :class:`ObservationGroups`: a ``Dict`` observation of which student and teacher each take named keys
  (rsl_rl's observation groups);
- :class:`TeacherObservationInInfo`: the environment passes the teacher's observation in its ``info``
  dicts at every reset and step (rl_games' ``states``).

Under SB3's auto-reset, the observation a step returns for a finished episode is the first of the next;
both wrappers keep the teacher's view of that same first state, and put the teacher's view of the final
state next to SB3's ``terminal_observation`` as ``terminal_teacher_observation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, unwrap_vec_wrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from sb3_distill.common.observation_normalizer import Obs

#: Where the wrappers put the teacher's view of a finished episode's last state, next to ``terminal_observation``.
TERMINAL_TEACHER_OBSERVATION = "terminal_teacher_observation"
#: The ``info`` key :class:`TeacherObservationInInfo` reads by default.
DEFAULT_INFO_KEY = "teacher_observation"


class TeacherView(VecEnvWrapper):
    """A vectorised environment whose observations are the student's, with the teacher's view of the same
    states at hand (:meth:`teacher_observations`).

    :param venv: the environment with both views
    :param student_space: what the student observes
    :param teacher_space: what the teacher observes
    """

    def __init__(self, venv: VecEnv, student_space: spaces.Space, teacher_space: spaces.Space):
        super().__init__(venv, observation_space=student_space)
        self.teacher_observation_space = teacher_space
        self._teacher_obs: Obs | None = None

    def teacher_observations(self) -> Obs:
        """The teacher's view of the observations the last ``reset`` or ``step`` returned, batched over environments."""
        if self._teacher_obs is None:
            raise RuntimeError(f"{type(self).__name__} has no observation yet: reset the environment first.")
        return self._teacher_obs

    def reset(self) -> VecEnvObs:
        return self._reset(self.venv.reset())

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        return self._step(obs, dones, list(infos)), rewards, dones, infos

    def _reset(self, obs: VecEnvObs) -> VecEnvObs:
        raise NotImplementedError

    def _step(self, obs: VecEnvObs, dones: np.ndarray, infos: list[dict[str, Any]]) -> VecEnvObs:
        raise NotImplementedError


def _keys_of(space: spaces.Space, keys: Sequence[str], who: str) -> tuple[str, ...]:
    if isinstance(keys, str):
        keys = (keys,)
    keys = tuple(keys)
    if not keys:
        raise ValueError(f"ObservationGroups needs at least one key for the {who}, got none.")
    assert isinstance(space, spaces.Dict)
    missing = [key for key in keys if key not in space.spaces]
    if missing:
        raise ValueError(
            f"The {who}'s observation keys {missing} are not in the environment's observation space, whose keys are "
            f"{sorted(space.spaces)}; name keys the environment has."
        )
    if len(set(keys)) != len(keys):
        raise ValueError(f"The {who}'s observation keys {list(keys)} name a key twice.")
    return keys


def _group_space(space: spaces.Dict, keys: tuple[str, ...]) -> spaces.Space:
    """One key: its space itself (a deployed student then reads the plain observation); several: a ``Dict``."""
    return space.spaces[keys[0]] if len(keys) == 1 else spaces.Dict({key: space.spaces[key] for key in keys})


def _group(obs: dict[str, np.ndarray], keys: tuple[str, ...]) -> Obs:
    return obs[keys[0]] if len(keys) == 1 else {key: obs[key] for key in keys}


class ObservationGroups(TeacherView):
    """Student and teacher each read named keys of a ``Dict`` observation (rsl_rl's observation groups).

    With one key, a side sees that key's observation itself, not a ``Dict`` of one entry, so that a
    student of ``student_keys="policy"`` saves as a model of the deployed environment's plain observation.

    :param venv: an environment with ``Dict`` observations
    :param student_keys: the keys the student reads (what it will have when deployed)
    :param teacher_keys: the keys the teacher reads, in the order of its own ``Dict`` (one key: that
        observation itself)
    """

    def __init__(self, venv: VecEnv, student_keys: str | Sequence[str], teacher_keys: str | Sequence[str]):
        space = venv.observation_space
        if not isinstance(space, spaces.Dict):
            raise ValueError(
                f"ObservationGroups needs an environment with Dict observations, got {space}; give the teacher's "
                "observation in the info dicts with TeacherObservationInInfo instead."
            )
        self.student_keys = _keys_of(space, student_keys, "student")
        self.teacher_keys = _keys_of(space, teacher_keys, "teacher")
        super().__init__(venv, _group_space(space, self.student_keys), _group_space(space, self.teacher_keys))

    def _reset(self, obs: VecEnvObs) -> VecEnvObs:
        assert isinstance(obs, dict)
        self._teacher_obs = _group(obs, self.teacher_keys)
        return _group(obs, self.student_keys)

    def _step(self, obs: VecEnvObs, dones: np.ndarray, infos: list[dict[str, Any]]) -> VecEnvObs:
        assert isinstance(obs, dict)
        for index in np.flatnonzero(dones):
            terminal = infos[index].get("terminal_observation")
            if isinstance(terminal, dict):
                infos[index][TERMINAL_TEACHER_OBSERVATION] = _group(terminal, self.teacher_keys)
                infos[index]["terminal_observation"] = _group(terminal, self.student_keys)
        return self._reset(obs)


class TeacherObservationInInfo(TeacherView):
    """The environment passes the teacher's observation in the ``info`` of every reset and step (rl_games'
    ``states``); the student reads the environment's observation.

    SB3's vectorised environments keep the ``info`` of the reset that follows a finished episode in
    ``reset_infos``: the teacher's view of the next episode's first state is read there, and the one in
    the step's ``info`` (of the final state) becomes ``terminal_teacher_observation``.

    :param venv: the environment; its reset and step infos carry ``info_key``
    :param teacher_observation_space: the space of the teacher's observations (what the teacher was trained on)
    :param info_key: the ``info`` key of the teacher's observation
    """

    def __init__(self, venv: VecEnv, teacher_observation_space: spaces.Space, info_key: str = DEFAULT_INFO_KEY):
        if not isinstance(teacher_observation_space, spaces.Box):
            raise ValueError(
                f"TeacherObservationInInfo takes a Box teacher_observation_space, got {teacher_observation_space!r}; "
                "for Dict observations of the teacher, give them as keys of a Dict observation (ObservationGroups)."
            )
        self.info_key = info_key
        super().__init__(venv, venv.observation_space, teacher_observation_space)

    def _base(self) -> VecEnv:
        """The innermost environment: wrappers such as ``VecMonitor`` do not pass ``reset_infos`` on."""
        env = self.venv
        while isinstance(env, VecEnvWrapper):
            env = env.venv
        return env

    def _read(self, info: dict[str, Any], index: int, where: str) -> np.ndarray:
        if self.info_key not in info:
            raise KeyError(
                f"The {where} info of environment {index} has no {self.info_key!r}: TeacherObservationInInfo needs "
                f"the teacher's observation under that key at every reset and step (its keys: {sorted(info)})."
            )
        value = np.asarray(info[self.info_key], dtype=self.teacher_observation_space.dtype)
        expected = tuple(self.teacher_observation_space.shape or ())
        if value.shape != expected:
            raise ValueError(
                f"The teacher's observation in the {where} info of environment {index} has shape {value.shape}, "
                f"expected {expected} (teacher_observation_space {self.teacher_observation_space})."
            )
        return value

    def _reset(self, obs: VecEnvObs) -> VecEnvObs:
        infos = self._base().reset_infos
        self._teacher_obs = np.stack([self._read(info, index, "reset") for index, info in enumerate(infos)])
        return obs

    def _step(self, obs: VecEnvObs, dones: np.ndarray, infos: list[dict[str, Any]]) -> VecEnvObs:
        values = [self._read(info, index, "step") for index, info in enumerate(infos)]
        resets = self._base().reset_infos
        for index in np.flatnonzero(dones):
            infos[index][TERMINAL_TEACHER_OBSERVATION] = values[index]
            values[index] = self._read(resets[index], int(index), "reset")
        self._teacher_obs = np.stack(values)
        return obs


class SharedObservation(TeacherView):
    """Student and teacher read the same observation, the teacher beneath the student's own wrappers.

    Put the student's ``VecFrameStack`` (and its ``VecNormalize``) on top of this view: the student reads its
    stacked, normalised observations while the teacher reads one raw observation, as it was trained to
    (through its own statistics).

    :param venv: the environment both read
    """

    def __init__(self, venv: VecEnv):
        super().__init__(venv, venv.observation_space, venv.observation_space)

    def _reset(self, obs: VecEnvObs) -> VecEnvObs:
        assert not isinstance(obs, tuple)  # SB3's vectorised environments return arrays or dicts of them
        self._teacher_obs = obs
        return obs

    def _step(self, obs: VecEnvObs, dones: np.ndarray, infos: list[dict[str, Any]]) -> VecEnvObs:
        for index in np.flatnonzero(dones):
            if "terminal_observation" in infos[index]:
                infos[index][TERMINAL_TEACHER_OBSERVATION] = infos[index]["terminal_observation"]
        return self._reset(obs)


def teacher_view_of(env: Any) -> TeacherView | None:
    """The :class:`TeacherView` of a vectorised environment, below any other wrappers; ``None`` without one."""
    return unwrap_vec_wrapper(env, TeacherView) if isinstance(env, VecEnv) else None
