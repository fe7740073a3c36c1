"""What PPD, student-distill and teacher-distill share: the teacher, its labels in the rollout, and λ.

``DistillationAlgorithm`` keeps each method a plain SB3 model: the teacher is never pickled into the
student's zip, and the rollout buffer class that is saved is SB3's own.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv, VecTransposeImage

from sb3_distill.common.action_params import DETERMINISTIC, GAUSSIAN, ActionParamSpec, ActionUnits, most_probable_action
from sb3_distill.common.buffers import DistillationDictRolloutBuffer, DistillationRolloutBuffer
from sb3_distill.common.compatibility import check_teacher_fits
from sb3_distill.common.divergences import KL_MODES, distillation_kl
from sb3_distill.common.losses import (
    ACTION_MATCHING_LOSSES,
    DISTRIBUTION_LOSSES,
    LOSSES,
    action_matching_loss,
    check_jsd_beta,
    distillation_loss,
)
from sb3_distill.common.student_terms import StudentTerms, student_terms
from sb3_distill.common.teacher import DEFAULT_Q_TEMPERATURE, Teacher, TeacherNormalization
from sb3_distill.common.teacher_sources import TeacherSource, load_teacher
from sb3_distill.common.training_guard import DEFAULT_MAX_DIVERGENCE, TrainingDiverged, check_max_divergence
from sb3_distill.schedules import DistillLambda

#: How many observations the teacher labels in one forward pass at the end of a rollout.
LABEL_CHUNK = 4096


def _channels_first_if_needed(batch: np.ndarray, space: spaces.Space) -> np.ndarray:
    """``[n, H, W, C]`` -> ``[n, C, H, W]`` when ``space`` is the channel-first form of the batch's images."""
    shape = getattr(space, "shape", None)
    if shape is None or len(shape) != 3 or np.ndim(batch) != 4 or tuple(batch.shape[1:]) == tuple(shape):
        return batch
    if tuple(batch.shape[1:]) == (shape[1], shape[2], shape[0]):
        return VecTransposeImage.transpose_image(batch)
    return batch


def validate_lambda_value(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"distill_lambda must be a non-negative number or a callable of the timestep, got {value!r}.")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"distill_lambda must be a finite number >= 0, got {value!r}.")
    return float(value)


class DistillationAlgorithm(OnPolicyAlgorithm):
    """Base of the on-policy distillation algorithms; put it before PPO in the bases to extend PPO.

    Subclasses set ``teacher_acts`` (who collects the rollouts) and ``needs_teacher_values``, call
    ``_init_distillation`` before and ``_finish_init`` after the SB3 constructor, and implement ``train``.
    """

    teacher_acts: bool = False
    needs_teacher_values: bool = False

    teacher: Teacher | None
    distill_lambda: DistillLambda
    kl_mode: str

    def _init_distillation(
        self,
        teacher: TeacherSource | None,
        distill_lambda: DistillLambda,
        kl_mode: str,
        teacher_vecnormalize: TeacherNormalization,
        distill_loss: str | None = None,
        jsd_beta: float = 0.5,
    ) -> None:
        """Record the distillation settings; called by subclasses' ``__init__`` before ``_setup_model``."""
        self.teacher = None
        self.teacher_source: str | None = None
        self.distill_lambda = self._checked_lambda(distill_lambda)
        self.kl_mode, self.distill_loss = self._checked_loss(kl_mode, distill_loss)
        self.jsd_beta = check_jsd_beta(jsd_beta)
        self.max_divergence: float | None = DEFAULT_MAX_DIVERGENCE
        self._pending_teacher = (teacher, teacher_vecnormalize, distill_loss)

    def _finish_init(self, init_setup_model: bool) -> None:
        """Attach a teacher given to the constructor once spaces are known."""
        teacher, teacher_vecnormalize, distill_loss = self._pending_teacher
        del self._pending_teacher
        if teacher is not None:
            if not init_setup_model:
                raise ValueError("A teacher given to the constructor needs _init_setup_model=True; call set_teacher later.")
            self.set_teacher(
                teacher,
                self.distill_lambda,
                self.kl_mode,
                teacher_vecnormalize,
                distill_loss=distill_loss,
                jsd_beta=self.jsd_beta,
            )

    # ------------------------------------------------------------------ teacher

    def set_teacher(
        self,
        teacher_model: TeacherSource,
        distill_lambda: DistillLambda = 1.0,
        kl_mode: str = "forward",
        teacher_vecnormalize: TeacherNormalization = None,
        trust_pickle: bool = False,
        temperature: float = DEFAULT_Q_TEMPERATURE,
        distill_loss: str | None = None,
        jsd_beta: float = 0.5,
        max_divergence: float | None = DEFAULT_MAX_DIVERGENCE,
    ) -> None:
        """Specify or replace the teacher to distil from.

        :param teacher_model: an SB3 or sb3-contrib model (PPO, A2C, a PPD student, DQN, QR-DQN, SAC, TD3,
            DDPG, TQC), its policy, a ``Teacher``, or the path of a model saved with ``save()``. A
            ``vecnormalize.pkl`` or ``vec_normalize.pkl`` beside a path is used as the teacher's observation
            statistics; a path with none beside it is taken to be a teacher trained on raw observations.
        :param distill_lambda: weight λ of the distillation term: a number >= 0, a callable that maps
            the elapsed timesteps (``num_timesteps``) to one, or a schedule of :mod:`sb3_distill.schedules`
        :param kl_mode: ``"forward"`` for KL(teacher || student), ``"reverse"`` for KL(student || teacher)
        :param teacher_vecnormalize: the teacher's ``VecNormalize`` (or the path of its .pkl): the teacher
            then sees raw observations normalised with a frozen copy of these statistics, whatever the
            student's own normalisation. ``False``: the teacher was trained on raw observations and sees
            them raw. Not given, for a model object: the teacher sees the student's observations.
        :param trust_pickle: read the teacher's files without the allow-list of safe types (see
            :func:`sb3_distill.load_teacher`); only for files you trust
        :param temperature: τ of a DQN or QR-DQN teacher, whose policy is softmax(Q / τ)
        :param distill_loss: ``"forward_kl"``, ``"reverse_kl"``, ``"jsd"``, ``"nll"``, ``"mse"`` or ``"huber"``
            (see :mod:`sb3_distill.common.losses`); not given: the KL that ``kl_mode`` names, or ``"mse"``
            for teachers without an action distribution (SAC, TD3, DDPG, TQC)
        :param jsd_beta: β of the generalised Jensen-Shannon divergence, in [0, 1]
        :param max_divergence: stop with :class:`~sb3_distill.common.training_guard.TrainingDiverged` when a
            minibatch's distillation term exceeds it (``None``: no limit); a non-finite loss always stops
        """
        distill_loss_requested = distill_loss is not None
        kl_mode, distill_loss = self._checked_loss(kl_mode, distill_loss)
        jsd_beta = check_jsd_beta(jsd_beta)
        max_divergence = check_max_divergence(max_divergence)
        distill_lambda = self._checked_lambda(distill_lambda)
        teacher = load_teacher(
            teacher_model,
            teacher_vecnormalize=teacher_vecnormalize,
            trust_pickle=trust_pickle,
            device=self.device,
            temperature=temperature,
        )
        check_teacher_fits(teacher.observation_space, teacher.action_space, self.observation_space, self.action_space)
        distill_loss = self._loss_for_teacher(teacher, distill_loss, requested=distill_loss_requested)
        if teacher.spec.family != DETERMINISTIC and teacher.squash_output != bool(self.policy.squash_output):
            raise ValueError(
                f"The teacher {'squashes' if teacher.squash_output else 'does not squash'} its actions with tanh and the "
                f"student {'does' if self.policy.squash_output else 'does not'}; their action distributions cannot be "
                "compared. Use the same squash_output setting for both."
            )
        self.teacher = teacher
        self.teacher_source = teacher.source
        if hasattr(distill_lambda, "bind"):  # schedules that read the model, e.g. schedules.PerformanceRatio
            distill_lambda.bind(self)
        self.distill_lambda = distill_lambda
        self.kl_mode, self.distill_loss, self.jsd_beta = kl_mode, distill_loss, jsd_beta
        self.max_divergence = max_divergence
        self._setup_teacher_labels()

    @staticmethod
    def _checked_loss(kl_mode: str, distill_loss: str | None) -> tuple[str, str]:
        """``(kl_mode, distill_loss)``, consistent: ``kl_mode`` names the KL when no other loss is given."""
        if kl_mode not in KL_MODES:
            raise ValueError(f"kl_mode must be 'forward' or 'reverse', got {kl_mode!r}.")
        if distill_loss is None:
            return kl_mode, f"{kl_mode}_kl"
        if distill_loss not in LOSSES:
            raise ValueError(f"distill_loss must be one of {LOSSES}, got {distill_loss!r}.")
        if distill_loss.endswith("_kl"):
            implied = distill_loss[: -len("_kl")]
            if kl_mode != "forward" and kl_mode != implied:
                raise ValueError(f"kl_mode={kl_mode!r} contradicts distill_loss={distill_loss!r}; give only one of them.")
            return implied, distill_loss
        return kl_mode, distill_loss

    def _loss_for_teacher(self, teacher: Teacher, distill_loss: str, requested: bool) -> str:
        """The loss to use with ``teacher``: ``"mse"`` by default for a deterministic one; errors for misfits."""
        deterministic = teacher.spec.family == DETERMINISTIC
        if deterministic and not requested:
            distill_loss = "mse"
        if deterministic and distill_loss not in ACTION_MATCHING_LOSSES:
            raise ValueError(
                f"The teacher ({teacher.kind}) has no action distribution to compare, so distill_loss={distill_loss!r} "
                f"cannot be used; use an action-matching loss: {' or '.join(map(repr, ACTION_MATCHING_LOSSES))} (default)."
            )
        if distill_loss in ACTION_MATCHING_LOSSES and not isinstance(self.action_space, spaces.Box):
            raise ValueError(
                f"distill_loss={distill_loss!r} matches continuous actions, but the action space is {self.action_space}; "
                f"use one of {DISTRIBUTION_LOSSES}."
            )
        return distill_loss

    @staticmethod
    def _checked_lambda(distill_lambda: DistillLambda) -> DistillLambda:
        if callable(distill_lambda):
            return distill_lambda
        return validate_lambda_value(distill_lambda)

    def current_lambda(self) -> float:
        """λ at the current timestep."""
        if callable(self.distill_lambda):
            return validate_lambda_value(self.distill_lambda(self.num_timesteps))
        return self.distill_lambda

    def _require_teacher(self) -> Teacher:
        if self.teacher is None:
            raise RuntimeError(
                f"{type(self).__name__} has no teacher: call model.set_teacher(teacher_model) "
                "(or pass teacher=... to the constructor) before learn()."
            )
        return self.teacher

    # ------------------------------------------------------------------ model setup and saving

    def _setup_model(self) -> None:
        if self.rollout_buffer_class not in (None, RolloutBuffer, DictRolloutBuffer):
            raise ValueError(
                f"{type(self).__name__} uses its own rollout buffer (it stores the teacher's labels); "
                f"rollout_buffer_class={self.rollout_buffer_class.__name__} is not supported."
            )
        super()._setup_model()
        self._action_param_spec = ActionParamSpec.for_action_space(self.action_space)
        self._action_units = ActionUnits(self.action_space) if isinstance(self.action_space, spaces.Box) else None
        self._setup_teacher_labels()

    def _setup_teacher_labels(self) -> None:
        """(Re)build the rollout buffer so that it stores what the current teacher needs."""
        if getattr(self, "rollout_buffer", None) is None:
            return
        buffer_class = (
            DistillationDictRolloutBuffer if isinstance(self.observation_space, spaces.Dict) else DistillationRolloutBuffer
        )
        self.rollout_buffer = buffer_class(
            self.n_steps,
            self.observation_space,  # type: ignore[arg-type]
            self.action_space,
            device=self.device,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
            n_envs=self.n_envs,
            n_teacher_params=self._teacher_label_width(),
            keep_teacher_values=self.needs_teacher_values,
            keep_teacher_observations=self._teacher_needs_raw_observations(),
            **self.rollout_buffer_kwargs,
        )

    def _teacher_label_width(self) -> int:
        return self.teacher.spec.n_params if self.teacher is not None else self._action_param_spec.n_params

    def _teacher_needs_raw_observations(self) -> bool:
        # The buffer holds what the student sees. The teacher needs something else only when it has its
        # own statistics and the student's observations are normalised with different ones.
        return (
            not self.teacher_acts
            and self.teacher is not None
            and self.teacher.obs_normalizer is not None
            and self._vec_normalize_env is not None
        )

    def set_env(self, env: Any, force_reset: bool = True) -> None:
        super().set_env(env, force_reset)
        self._setup_teacher_labels()

    def _excluded_save_params(self) -> list[str]:
        # The student's zip must load as a plain SB3 model: no teacher, no distillation buffer class,
        # and no λ callable that would need this package (or arbitrary code) to unpickle.
        return [*super()._excluded_save_params(), "teacher", "distill_lambda", "_action_param_spec", "_action_units"]

    # ------------------------------------------------------------------ learning

    def learn(self, *args: Any, **kwargs: Any) -> Any:
        self._require_teacher()
        self.current_lambda()  # a λ schedule that returns a bad value fails here, before any step
        return super().learn(*args, **kwargs)

    def _teacher_view(self, student_obs: Any) -> Any:
        """The observation the teacher sees at the current step."""
        teacher = self._require_teacher()
        if teacher.obs_normalizer is not None and self._vec_normalize_env is not None:
            return self._raw_for_teacher(self._last_original_obs)
        return student_obs

    def _raw_for_teacher(self, raw_obs: Any) -> Any:
        """Raw observations in the layout the teacher's policy takes.

        SB3 wraps channel-last image environments in ``VecTransposeImage`` *outside* ``VecNormalize``, so
        the raw observations ``VecNormalize`` keeps are still channel-last while the teacher (trained
        through the same wrapping) takes channel-first images.
        """
        space = self._require_teacher().observation_space
        if isinstance(raw_obs, dict):
            return {key: _channels_first_if_needed(value, space[key]) for key, value in raw_obs.items()}  # type: ignore[index]
        return _channels_first_if_needed(raw_obs, space)

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        """SB3's ``collect_rollouts``, with the teacher's labels stored alongside each transition.

        The student (or, for teacher-distill, the teacher) acts. Labels of student-collected rollouts
        are computed in a few large teacher forward passes once the rollout is complete.
        """
        assert self._last_obs is not None, "No previous observation was provided"
        assert isinstance(rollout_buffer, (DistillationRolloutBuffer, DistillationDictRolloutBuffer))
        teacher = self._require_teacher()
        self.policy.set_training_mode(False)

        n_steps = 0
        rollout_buffer.reset()
        if self.use_sde:
            self.policy.reset_noise(env.num_envs)
        if self.teacher_acts:
            teacher.reset_noise(env.num_envs)
        keep_raw = rollout_buffer.keep_teacher_observations
        track_raw = teacher.obs_normalizer is not None and self._vec_normalize_env is not None

        callback.on_rollout_start()

        while n_steps < n_rollout_steps:
            if self.use_sde and self.sde_sample_freq > 0 and n_steps % self.sde_sample_freq == 0:
                self.policy.reset_noise(env.num_envs)

            teacher_params = teacher_values = None
            with th.no_grad():
                if self.teacher_acts:
                    actions_tensor, teacher_params, teacher_values = teacher.act(self._teacher_view(self._last_obs))
                    # The student's values and log-probabilities of the teacher's actions are not used.
                    values = log_probs = th.zeros(env.num_envs)
                else:
                    obs_tensor = obs_as_tensor(self._last_obs, self.device)  # type: ignore[arg-type]
                    actions_tensor, values, log_probs = self.policy(obs_tensor)
            actions = actions_tensor.cpu().numpy()
            if self.teacher_acts and teacher.squash_output and not self.policy.squash_output:
                actions = self.policy.unscale_action(actions)  # the teacher's [-1, 1] units -> the environment's

            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
                if self.policy.squash_output:
                    clipped_actions = self.policy.unscale_action(clipped_actions)
                else:
                    clipped_actions = np.clip(actions, self.action_space.low, self.action_space.high)

            raw_obs = self._raw_for_teacher(self._last_original_obs) if keep_raw else None
            new_obs, rewards, dones, infos = env.step(clipped_actions)

            self.num_timesteps += env.num_envs

            callback.update_locals(locals())
            if not callback.on_step():
                return False

            self._update_info_buffer(infos, dones)
            n_steps += 1

            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.reshape(-1, 1)

            # Bootstrap truncated episodes with the value function (SB3 issue #633); only the
            # student's own returns are learned from, so teacher-driven rollouts skip it.
            if not self.teacher_acts:
                for idx, done in enumerate(dones):
                    if (
                        done
                        and infos[idx].get("terminal_observation") is not None
                        and infos[idx].get("TimeLimit.truncated", False)
                    ):
                        terminal_obs = self.policy.obs_to_tensor(infos[idx]["terminal_observation"])[0]
                        with th.no_grad():
                            terminal_value = self.policy.predict_values(terminal_obs)[0]  # type: ignore[arg-type]
                        rewards[idx] += self.gamma * terminal_value

            step = rollout_buffer.pos
            rollout_buffer.add(
                self._last_obs,  # type: ignore[arg-type]
                actions,
                rewards,
                self._last_episode_starts,  # type: ignore[arg-type]
                values,
                log_probs,
            )
            rollout_buffer.add_teacher_step(step, raw_obs, teacher_params, teacher_values)
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
            if track_raw:
                self._last_original_obs = self._vec_normalize_env.get_original_obs()  # type: ignore[union-attr]

        with th.no_grad():
            values = self.policy.predict_values(obs_as_tensor(new_obs, self.device))  # type: ignore[arg-type]

        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        if not self.teacher_acts:
            self._label_rollout(rollout_buffer)

        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    def _label_rollout(self, rollout_buffer: DistillationRolloutBuffer | DistillationDictRolloutBuffer) -> None:
        teacher = self._require_teacher()
        inputs = rollout_buffer.teacher_inputs()
        n = len(next(iter(inputs.values()))) if isinstance(inputs, dict) else len(inputs)
        params, values = [], []
        for start in range(0, n, LABEL_CHUNK):
            chunk = (
                {key: value[start : start + LABEL_CHUNK] for key, value in inputs.items()}
                if isinstance(inputs, dict)
                else inputs[start : start + LABEL_CHUNK]
            )
            try:
                chunk_params, chunk_values = teacher.label(chunk, with_values=self.needs_teacher_values)
            except ValueError as error:  # torch refuses to build a distribution from NaN parameters
                if "invalid values" not in str(error):
                    raise
                raise TrainingDiverged(self._bad_teacher_message()) from error
            params.append(chunk_params)
            if chunk_values is not None:
                values.append(chunk_values)
        labels, label_values = th.cat(params), th.cat(values) if values else None
        if not bool(th.isfinite(labels).all()) or (label_values is not None and not bool(th.isfinite(label_values).all())):
            raise TrainingDiverged(self._bad_teacher_message())
        rollout_buffer.set_teacher_labels(labels, label_values)

    def _bad_teacher_message(self) -> str:
        return (
            f"The teacher's outputs are not finite (NaN or infinite) on the rollout ending at {self.num_timesteps} "
            f"timesteps, before update {self._n_updates + 1}; the student was not updated with them. Check the teacher's "
            "weights and its observation statistics."
        )

    # ------------------------------------------------------------------ loss pieces and logging

    def _student_terms(self, observations: Any, actions: th.Tensor, teacher_params: th.Tensor) -> StudentTerms:
        """The student's log-probabilities, entropy, values and divergence to the teacher on one minibatch."""
        gaussian_kl_mode = (
            self.kl_mode if self.distill_loss.endswith("_kl") and self._action_param_spec.family == GAUSSIAN else None
        )
        return student_terms(self.policy, observations, actions, teacher_params, self._divergence, gaussian_kl_mode)

    def _divergence(self, teacher_params: th.Tensor, student_params: th.Tensor) -> th.Tensor:
        """The unweighted distillation loss (``distill_loss``) between teacher and student at each state, ``[batch]``."""
        if self.distill_loss in ACTION_MATCHING_LOSSES:
            teacher = self._require_teacher()
            return action_matching_loss(
                self.distill_loss,
                self._action_units(teacher_params, teacher.spec, teacher.squash_output),
                self._action_units(student_params, self._action_param_spec, bool(self.policy.squash_output)),
            )
        return distillation_loss(self.distill_loss, teacher_params, student_params, self._action_param_spec, self.jsd_beta)

    def _mean_kl(self, divergence: th.Tensor, teacher_params: th.Tensor, student_params: th.Tensor | None) -> th.Tensor | None:
        """The mean KL for ``train/teacher_kl``: the divergence itself when it is a KL, else the forward KL;
        ``None`` for a teacher without an action distribution.

        ``student_params`` may be ``None`` only when the divergence is a KL.
        """
        if self._require_teacher().spec.family == DETERMINISTIC:
            return None
        with th.no_grad():
            if self.distill_loss.endswith("_kl"):
                return divergence.detach().mean()
            return distillation_kl(teacher_params, student_params, self._action_param_spec, "forward").mean()

    def _action_agreement(self, teacher_params: th.Tensor, student_params: th.Tensor | None) -> th.Tensor | None:
        """Fraction of states where the most probable actions agree on every sub-action (discrete only)."""
        spec = self._action_param_spec
        if not spec.is_discrete or student_params is None:
            return None
        with th.no_grad():
            same = most_probable_action(teacher_params, spec) == most_probable_action(student_params, spec)
            return same.all(dim=1).float().mean()

    def _record_distillation_logs(
        self,
        distill_lambda: float,
        distillation_losses: list[th.Tensor],
        teacher_kls: list[th.Tensor | None],
        agreements: list[th.Tensor],
    ) -> None:
        """Record the distillation keys; ``train/teacher_kl`` only where the teacher has a KL to the student."""
        self.logger.record("train/distillation_loss", th.stack(distillation_losses).mean().item())
        self.logger.record("train/distillation_lambda", distill_lambda)
        teacher_kls = [kl for kl in teacher_kls if kl is not None]
        if teacher_kls:
            self.logger.record("train/teacher_kl", th.stack(teacher_kls).mean().item())
        if agreements:
            self.logger.record("train/action_agreement", th.stack(agreements).mean().item())
