"""Rollout collection with the teacher's labels stored alongside each transition.

``TeacherLabelledRollouts`` is SB3's ``collect_rollouts`` with a rollout buffer that also holds the
teacher's labels. By default the student acts and the whole rollout is labelled at its end, in a few
large teacher forward passes; a method in which the teacher acts (teacher-distill) overrides the hooks
``_start_rollout``, ``_act``, ``_bootstrap_truncated``, ``_label_after_rollout`` and
``_teacher_observation_kept``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv, VecTransposeImage

from sb3_distill.common.action_params import ActionParamSpec
from sb3_distill.common.buffers import DistillationDictRolloutBuffer, DistillationRolloutBuffer
from sb3_distill.common.compatibility import check_teacher_fits
from sb3_distill.common.observation_normalizer import Obs
from sb3_distill.common.teacher import Teacher
from sb3_distill.common.teacher_views import TeacherView, teacher_view_of
from sb3_distill.common.training_guard import TrainingDiverged

LabelledBuffer = DistillationRolloutBuffer | DistillationDictRolloutBuffer


def _channels_first_if_needed(batch: np.ndarray, space: spaces.Space) -> np.ndarray:
    """``[n, H, W, C]`` -> ``[n, C, H, W]`` when ``space`` is the channel-first form of the batch's images."""
    shape = getattr(space, "shape", None)
    if shape is None or len(shape) != 3 or np.ndim(batch) != 4 or tuple(batch.shape[1:]) == tuple(shape):
        return batch
    if tuple(batch.shape[1:]) == (shape[1], shape[2], shape[0]):
        return VecTransposeImage.transpose_image(batch)
    return batch


class TeacherLabelledRollouts(OnPolicyAlgorithm):
    """SB3's on-policy rollouts, with a buffer that stores the teacher's labels of every transition.

    Subclasses set ``teacher`` (``None`` until one is given), ``needs_teacher_values`` and
    ``_action_param_spec``, and call ``_setup_teacher_labels`` whenever the teacher changes.
    """

    needs_teacher_values: bool = False

    teacher: Teacher | None
    rollout_buffer: LabelledBuffer
    _action_param_spec: ActionParamSpec

    def _require_teacher(self) -> Teacher:
        if self.teacher is None:
            raise RuntimeError(
                f"{type(self).__name__} has no teacher: call model.set_teacher(teacher_model) "
                "(or pass teacher=... to the constructor) before learn()."
            )
        return self.teacher

    # ------------------------------------------------------------------ the buffer

    def _setup_teacher_labels(self) -> None:
        """(Re)build the rollout buffer so that it stores what the current teacher needs."""
        if getattr(self, "rollout_buffer", None) is None:
            return
        view = self._privileged_view()
        buffer_class = (
            DistillationDictRolloutBuffer if isinstance(self.observation_space, spaces.Dict) else DistillationRolloutBuffer
        )
        self.rollout_buffer = buffer_class(
            self.n_steps,
            self.observation_space,
            self.action_space,
            device=self.device,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
            n_envs=self.n_envs,
            n_teacher_params=self.teacher.spec.n_params if self.teacher is not None else self._action_param_spec.n_params,
            keep_teacher_values=self.needs_teacher_values,
            keep_teacher_observations=self._teacher_observation_kept(),
            teacher_observation_space=None if view is None else view.teacher_observation_space,
            **self.rollout_buffer_kwargs,
        )

    def _privileged_view(self) -> TeacherView | None:
        """The environment's :class:`~sb3_distill.common.teacher_views.TeacherView`, below any other wrappers."""
        return teacher_view_of(getattr(self, "env", None))

    def _teacher_observation_space(self) -> spaces.Space:
        """What the teacher must have been trained to observe: the privileged view's space, else the student's."""
        view = self._privileged_view()
        return self.observation_space if view is None else view.teacher_observation_space

    def _check_teacher_fits(self, teacher: Teacher) -> None:
        """Raise ``ValueError`` when ``teacher`` does not observe what this environment shows it, or act in its actions."""
        check_teacher_fits(
            teacher.observation_space,
            teacher.action_space,
            self._teacher_observation_space(),
            self.action_space,
            privileged=self._privileged_view() is not None,
        )
        env = getattr(self, "env", None)
        if env is not None:
            teacher.check_environments(env.num_envs)

    def _teacher_sees_raw_observations(self) -> bool:
        """Whether the teacher has its own statistics while the student's observations are normalised with others."""
        return self.teacher is not None and self.teacher.obs_normalizer is not None and self._vec_normalize_env is not None

    def _teacher_observation_kept(self) -> bool:
        """Whether the buffer also keeps the observations as the teacher sees them, to label them later.

        The buffer holds what the student sees; the teacher needs something else when it sees raw observations
        or a privileged view.
        """
        return self._privileged_view() is not None or self._teacher_sees_raw_observations()

    def _teacher_view(self, student_obs: Obs) -> Obs:
        """The observation the teacher sees at the current step."""
        view = self._privileged_view()
        if view is not None:
            return self._raw_for_teacher(view.teacher_observations())
        if self._teacher_sees_raw_observations():
            return self._raw_for_teacher(self._last_original_obs)  # type: ignore[arg-type]
        return student_obs

    def _raw_for_teacher(self, raw_obs: Obs) -> Obs:
        """Raw observations in the layout the teacher's policy takes.

        SB3 wraps channel-last image environments in ``VecTransposeImage`` *outside* ``VecNormalize``, so
        the raw observations ``VecNormalize`` keeps are still channel-last while the teacher (trained
        through the same wrapping) takes channel-first images.
        """
        space = self._require_teacher().observation_space
        if isinstance(raw_obs, dict):
            return {key: _channels_first_if_needed(value, space[key]) for key, value in raw_obs.items()}  # type: ignore[index]
        return _channels_first_if_needed(raw_obs, space)

    # ------------------------------------------------------------------ hooks: who acts, and when labels are made

    def _start_rollout(self, n_envs: int) -> None:
        """Prepare exploration noise before a rollout in ``n_envs`` environments."""
        if self.use_sde:
            self.policy.reset_noise(n_envs)

    def _act(self, obs: Obs) -> tuple[np.ndarray, th.Tensor, th.Tensor, th.Tensor | None, th.Tensor | None]:
        """One step's actions (in the policy's units), values, log-probabilities and, when already known, the
        teacher's labels and values. Runs under ``th.no_grad()``. Here the student acts; labels come later.
        """
        obs_tensor = obs_as_tensor(obs, self.device)  # type: ignore[arg-type]
        actions, values, log_probs = self.policy(obs_tensor)
        return actions.cpu().numpy(), values, log_probs, None, None

    def _teacher_act(self, obs: Obs) -> tuple[np.ndarray, th.Tensor, th.Tensor]:
        """The teacher's actions in the environment's units (the policy's, when it squashes), with its labels and
        values of the states it acts in (teacher-distill, and student-distill's DAgger mixing)."""
        teacher = self._require_teacher()
        try:
            # a recurrent or frame-stacked teacher advances its state, and resets it where an episode starts
            actions_tensor, teacher_params, teacher_values = teacher.act(self._teacher_view(obs), self._last_episode_starts)
        except ValueError as error:  # torch refuses to build a distribution from NaN parameters
            if "invalid values" not in str(error):
                raise
            raise TrainingDiverged(self._bad_teacher_message()) from error
        actions = actions_tensor.cpu().numpy()
        if teacher.squash_output and not self.policy.squash_output:
            actions = self.policy.unscale_action(actions)  # the teacher's [-1, 1] units -> the environment's
        return actions, teacher_params, teacher_values

    def _bootstrap_truncated(self, rewards: np.ndarray, dones: np.ndarray, infos: list[dict[str, Any]]) -> None:
        """Add γ·V(terminal observation) to the rewards of truncated episodes (SB3 issue #633), in place."""
        for idx, done in enumerate(dones):
            if done and infos[idx].get("terminal_observation") is not None and infos[idx].get("TimeLimit.truncated", False):
                terminal_obs = self.policy.obs_to_tensor(infos[idx]["terminal_observation"])[0]
                with th.no_grad():
                    terminal_value = self.policy.predict_values(terminal_obs)[0]  # type: ignore[arg-type]
                rewards[idx] += self.gamma * terminal_value

    def _label_after_rollout(self, rollout_buffer: LabelledBuffer) -> None:
        """Label the whole rollout with the teacher: in chunks of observations (``Teacher.label_in_chunks``), or,
        for a recurrent teacher, in time order along each environment's steps."""
        teacher = self._require_teacher()
        inputs = rollout_buffer.teacher_inputs()
        try:
            if teacher.recurrent:
                labels, label_values = teacher.label_sequence(inputs, rollout_buffer.episode_starts, self.needs_teacher_values)
            else:
                labels, label_values = teacher.label_in_chunks(inputs, self.needs_teacher_values)
        except ValueError as error:  # torch refuses to build a distribution from NaN parameters
            if "invalid values" not in str(error):
                raise
            raise TrainingDiverged(self._bad_teacher_message()) from error
        if not bool(th.isfinite(labels).all()) or (label_values is not None and not bool(th.isfinite(label_values).all())):
            raise TrainingDiverged(self._bad_teacher_message())
        rollout_buffer.set_teacher_labels(labels, label_values)

    def _bad_teacher_message(self) -> str:
        return (
            f"The teacher's outputs are not finite (NaN or infinite) on the rollout ending at {self.num_timesteps} "
            f"timesteps, before update {self._n_updates + 1}; the student was not updated with them. Check the teacher's "
            "weights and its observation statistics."
        )

    # ------------------------------------------------------------------ the rollout

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        """SB3's ``collect_rollouts``, with the teacher's labels stored alongside each transition."""
        assert self._last_obs is not None, "No previous observation was provided"
        assert isinstance(rollout_buffer, (DistillationRolloutBuffer, DistillationDictRolloutBuffer))
        teacher = self._require_teacher()
        self.policy.set_training_mode(False)

        n_steps = 0
        rollout_buffer.reset()
        self._start_rollout(env.num_envs)
        keep_teacher_view = rollout_buffer.keep_teacher_observations
        track_raw = teacher.obs_normalizer is not None and self._vec_normalize_env is not None

        callback.on_rollout_start()

        while n_steps < n_rollout_steps:
            if self.use_sde and self.sde_sample_freq > 0 and n_steps % self.sde_sample_freq == 0:
                self.policy.reset_noise(env.num_envs)

            with th.no_grad():
                actions, values, log_probs, teacher_params, teacher_values = self._act(self._last_obs)  # type: ignore[arg-type]

            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                if self.policy.squash_output:
                    clipped_actions = self.policy.unscale_action(clipped_actions)
                else:
                    clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)

            # read before the step: a view holds the teacher's observations of the states the student acts in
            teacher_obs = self._teacher_view(self._last_obs) if keep_teacher_view else None  # type: ignore[arg-type]
            new_obs, rewards, dones, infos = env.step(clipped_actions)

            self.num_timesteps += env.num_envs

            callback.update_locals(locals())
            if not callback.on_step():
                return False

            self._update_info_buffer(infos, dones)
            n_steps += 1

            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.reshape(-1, 1)

            self._bootstrap_truncated(rewards, dones, infos)

            step = rollout_buffer.pos
            rollout_buffer.add(
                self._last_obs,  # type: ignore[arg-type]
                actions,
                rewards,
                self._last_episode_starts,  # type: ignore[arg-type]
                values,
                log_probs,
            )
            rollout_buffer.add_teacher_step(step, teacher_obs, teacher_params, teacher_values)
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
            if track_raw:
                self._last_original_obs = self._vec_normalize_env.get_original_obs()  # type: ignore[union-attr]

        with th.no_grad():
            values = self.policy.predict_values(obs_as_tensor(new_obs, self.device))  # type: ignore[arg-type]

        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        self._label_after_rollout(rollout_buffer)

        callback.update_locals(locals())
        callback.on_rollout_end()
        return True
