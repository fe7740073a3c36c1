"""Several teachers, one student: each environment of the student's ``VecEnv`` has its own teacher.

Multi-task distillation (Rusu et al., 2016; Czarnecki et al., 2019): one teacher per task, trained on its
own, and a single student for all of them. The tasks are environments of one ``VecEnv`` (they share its
observation and action spaces; a task id in the observation tells the student which it is in), and
:class:`MultiTeacher` labels each state with the teacher of the environment it was visited in. Each teacher
keeps its own observation statistics, and a recurrent or frame-stacked teacher its own state, over its own
environments' states in the order they were visited.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy

from sb3_distill.common.compatibility import check_teacher_fits
from sb3_distill.common.observation_normalizer import Obs, map_observations, observation_count, select_observations
from sb3_distill.common.teacher import Teacher

__all__ = ["MultiTeacher"]


class MultiTeacher(Teacher):
    """Teachers assigned to the environments of the student's ``VecEnv``.

    :param teachers: the teachers (from :func:`sb3_distill.load_teacher`, each with its own statistics); they
        must share their observation and action spaces
    :param assignment: for each environment of the ``VecEnv``, in order, the index of its teacher in
        ``teachers``
    :raises ValueError: no teacher, an assignment that names a teacher that is not there or leaves one out,
        or teachers whose spaces differ
    """

    recurrent = True  # it labels a rollout in time order: a state's environment is its place in the rollout

    def __init__(self, teachers: Sequence[Teacher], assignment: Sequence[int]):
        teachers = list(teachers)
        if not teachers or not all(isinstance(teacher, Teacher) for teacher in teachers):
            raise ValueError(
                "MultiTeacher takes a list of teachers built with load_teacher, one per task, got "
                f"{[type(teacher).__name__ for teacher in teachers]}."
            )
        self.assignment = np.asarray(assignment)
        if self.assignment.ndim != 1 or not len(self.assignment) or not np.issubdtype(self.assignment.dtype, np.integer):
            raise ValueError(f"assignment gives each environment the index of its teacher, got {list(assignment)!r}.")
        unknown = sorted({int(index) for index in self.assignment if not 0 <= index < len(teachers)})
        unused = sorted(set(range(len(teachers))) - {int(index) for index in self.assignment})
        if unknown or unused:
            raise ValueError(
                f"assignment {self.assignment.tolist()} names teachers {unknown} of {len(teachers)} and leaves "
                f"teachers {unused} without an environment; give every environment one of teachers 0 to "
                f"{len(teachers) - 1}, and every teacher at least one environment."
            )
        first = teachers[0]
        for index, teacher in enumerate(teachers[1:], start=1):
            try:
                check_teacher_fits(
                    teacher.observation_space, teacher.action_space, first.observation_space, first.action_space
                )
            except ValueError as error:
                raise ValueError(f"MultiTeacher: teacher {index} does not fit teacher 0's spaces. {error}") from None
            if teacher.squash_output != first.squash_output or teacher.spec != first.spec:
                raise ValueError(
                    f"MultiTeacher: teacher {index} labels with other parameters than teacher 0 ({teacher.kind} and "
                    f"{first.kind}); the teachers of one student must be of one kind for its action space."
                )
        normalised = {teacher.obs_normalizer is not None for teacher in teachers}
        if len(normalised) > 1:
            raise ValueError(
                "MultiTeacher: some teachers have observation statistics and others read the student's observations; "
                "give each teacher its statistics (teacher_vecnormalize=..., or False for raw observations)."
            )
        self.teachers = teachers
        self.policy = first.policy
        self.obs_normalizer = first.obs_normalizer  # each teacher applies its own: this says raw ones are needed
        self.source = "MultiTeacher(" + ", ".join(str(teacher.source) for teacher in teachers) + ")"
        self.spec = first.spec

    @property
    def kind(self) -> str:
        return f"MultiTeacher of {len(self.teachers)} ({', '.join(teacher.kind for teacher in self.teachers)})"

    @property
    def observation_space(self) -> spaces.Space:
        return self.teachers[0].observation_space

    def policies(self) -> list[BasePolicy]:
        return [policy for teacher in self.teachers for policy in teacher.policies()]

    @property
    def action_noise(self) -> float:
        """σ of the noise its TD3 or DDPG teachers act with; setting it sets every such teacher's (each one's own
        is ``teachers[i].action_noise``)."""
        sigmas = {float(teacher.action_noise) for teacher in self._noisy()}  # type: ignore[attr-defined]
        if len(sigmas) > 1:
            raise ValueError(
                f"The teachers act with different action_noise {sorted(sigmas)}; read each one's: teachers[i].action_noise."
            )
        return sigmas.pop()

    @action_noise.setter
    def action_noise(self, sigma: float) -> None:
        for teacher in self._noisy():
            teacher.action_noise = sigma  # type: ignore[attr-defined]

    def _noisy(self) -> list[Teacher]:
        noisy = [teacher for teacher in self.teachers if hasattr(teacher, "action_noise")]
        if not noisy:
            raise AttributeError(f"No teacher of this {self.kind} acts with added noise: it has no action_noise.")
        return noisy

    def to(self, device: th.device | str) -> Teacher:
        for teacher in self.teachers:
            teacher.to(device)
        return self

    def check_environments(self, n_envs: int) -> None:
        self._environments(n_envs)

    def _environments(self, n_envs: int) -> list[np.ndarray]:
        """The environments of each teacher, checked against the ``VecEnv``'s number."""
        if n_envs != len(self.assignment):
            raise ValueError(
                f"MultiTeacher assigns teachers to {len(self.assignment)} environments, and the VecEnv has {n_envs}; "
                "give one teacher index per environment."
            )
        return [np.flatnonzero(self.assignment == index) for index in range(len(self.teachers))]

    def reset_noise(self, n_envs: int) -> None:
        for teacher, envs in zip(self.teachers, self._environments(n_envs), strict=True):
            teacher.reset_noise(len(envs))

    @th.no_grad()
    def label_sequence(
        self, obs: Obs, episode_starts: np.ndarray, with_values: bool = False
    ) -> tuple[th.Tensor, th.Tensor | None]:
        n_steps, n_envs = episode_starts.shape
        params: th.Tensor | None = None
        values: th.Tensor | None = None
        for teacher, envs in zip(self.teachers, self._environments(n_envs), strict=True):

            def part(array: np.ndarray, envs: np.ndarray = envs) -> np.ndarray:  # its environments' steps, step-major
                return array.reshape(n_steps, n_envs, *array.shape[1:])[:, envs].reshape(-1, *array.shape[1:])

            their_obs = map_observations(obs, part)
            if teacher.recurrent:
                their_params, their_values = teacher.label_sequence(their_obs, episode_starts[:, envs], with_values)
            else:
                their_params, their_values = teacher.label_in_chunks(their_obs, with_values)
            if params is None:
                params = their_params.new_zeros((n_steps, n_envs, their_params.shape[-1]))
                values = their_params.new_zeros((n_steps, n_envs)) if with_values else None
            params[:, envs] = their_params.reshape(n_steps, len(envs), -1)
            if values is not None and their_values is not None:
                values[:, envs] = their_values.reshape(n_steps, len(envs))
        assert params is not None
        return params.reshape(n_steps * n_envs, -1), None if values is None else values.reshape(-1)

    @th.no_grad()
    def act(self, obs: Obs, episode_starts: np.ndarray | None = None) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        n_envs = observation_count(obs)
        starts = np.zeros(n_envs) if episode_starts is None else np.asarray(episode_starts, dtype=float)
        outputs: list[th.Tensor] = []
        for teacher, envs in zip(self.teachers, self._environments(n_envs), strict=True):
            their_obs = select_observations(obs, envs)
            theirs = teacher.act(their_obs, starts[envs])
            if not outputs:
                outputs = [tensor.new_zeros((n_envs, *tensor.shape[1:])) for tensor in theirs]
            for output, tensor in zip(outputs, theirs, strict=True):
                output[envs] = tensor
        actions, params, values = outputs
        return actions, params, values

    def predict(
        self,
        observation: Obs,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        raise TypeError(
            "A MultiTeacher acts per environment of the distillation's VecEnv, not on an evaluation environment of its "
            "own: evaluate each of its teachers (multi_teacher.teachers[i]) on its task."
        )
