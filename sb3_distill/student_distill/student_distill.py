"""Student-distill: supervised distillation on trajectories the student collects (Czarnecki et al., 2019)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.policies import ActorCriticCnnPolicy, ActorCriticPolicy, BasePolicy, MultiInputActorCriticPolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import explained_variance
from torch.nn import functional as F

from sb3_distill.common.action_params import action_params
from sb3_distill.common.distillation_algorithm import DistillationAlgorithm, DistillLambda, TeacherSource
from sb3_distill.common.distillation_logs import action_agreement, record_distillation_logs
from sb3_distill.common.policy_forward import distribution_and_values
from sb3_distill.common.presets import PAPER_ONLINE, accepts_presets
from sb3_distill.common.student_terms import GradientClip
from sb3_distill.common.teacher import TeacherNormalization
from sb3_distill.common.observation_normalizer import Obs
from sb3_distill.common.teacher_rollouts import LabelledBuffer
from sb3_distill.common.training_guard import TrainingDiverged, check_update
from sb3_distill.student_distill.mixing import TeacherActionProb, check_teacher_action_prob, teacher_action_prob_at

SelfStudentDistill = TypeVar("SelfStudentDistill", bound="StudentDistill")


class StudentDistill(DistillationAlgorithm):
    """Student-distill: the student collects ``n_steps`` per environment, then takes one gradient step on::

        L = λ * mean KL(π_teacher || π_θ) + c_v * mean (V_θ(s) - V_teacher(s))^2 - c_e * mean H(π_θ)

    (with ``distill_loss``, the KL can be replaced by another divergence).

    The environment's rewards are not used: the critic is distilled from the teacher's value function,
    so that the student can later continue actor-critic training. The rollout is used once, then discarded.

    :param policy: the student's policy (``MlpPolicy``, ``CnnPolicy``, ``MultiInputPolicy`` or a class)
    :param env: the environment to learn from (a Gymnasium id, an env, or a VecEnv)
    :param learning_rate: the learning rate, or a schedule of the remaining progress (1 to 0)
    :param n_steps: steps per environment per update (the paper uses 5)
    :param gamma: discount factor (only used for the rollout buffer's returns, which are logged)
    :param gae_lambda: GAE λ (as above)
    :param ent_coef: entropy coefficient
    :param vf_coef: weight of the value-distillation term
    :param max_grad_norm: gradient-norm clipping
    :param use_sde: use gSDE exploration for the student
    :param sde_sample_freq: resample the gSDE noise every n steps (-1: once per rollout)
    :param rollout_buffer_class: must be ``None`` (a distillation buffer is used)
    :param rollout_buffer_kwargs: extra keyword arguments of the rollout buffer
    :param stats_window_size: episodes over which rollout statistics are averaged
    :param tensorboard_log: TensorBoard log folder (None: no TensorBoard)
    :param policy_kwargs: keyword arguments of the policy (``net_arch``, ...)
    :param verbose: 0, 1 or 2
    :param seed: random seed
    :param device: ``"cpu"``, ``"cuda"`` or ``"auto"``
    :param _init_setup_model: build the networks now
    :param teacher: optional teacher, as for :meth:`set_teacher`
    :param distill_lambda: λ, a number >= 0 or a callable of the elapsed timesteps
    :param kl_mode: ``"forward"`` or ``"reverse"``
    :param teacher_vecnormalize: the teacher's observation statistics (``VecNormalize`` or .pkl path)
    :param distill_loss: ``"forward_kl"`` (default; ``"mse"`` for SAC, TD3, DDPG and TQC teachers),
        ``"reverse_kl"``, ``"jsd"``, ``"nll"``, ``"mse"`` or ``"huber"``
    :param jsd_beta: β of the generalised Jensen-Shannon divergence
    :param preset: ``"paper"`` fills in the arguments not given with the paper's settings
        (:mod:`sb3_distill.common.presets`); ``None``: the defaults above
    :param teacher_action_prob: DAgger's β: the probability that an environment executes the teacher's action
        at a step instead of the student's, a number in [0, 1] or a schedule of the elapsed timesteps
        (:mod:`sb3_distill.student_distill.mixing`; e.g. ``schedules.linear(1.0, 0.0, 100_000)``). With β not 0
        the teacher labels each state as it acts. 0: the student alone acts (student-distill)
    """

    needs_teacher_values = True

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": ActorCriticPolicy,
        "CnnPolicy": ActorCriticCnnPolicy,
        "MultiInputPolicy": MultiInputActorCriticPolicy,
    }

    @accepts_presets({"paper": PAPER_ONLINE})
    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 7e-4,
        n_steps: int = 5,
        gamma: float = 0.99,
        gae_lambda: float = 1.0,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        rollout_buffer_class: type[RolloutBuffer] | None = None,
        rollout_buffer_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
        teacher: TeacherSource | None = None,
        distill_lambda: DistillLambda = 1.0,
        kl_mode: str = "forward",
        teacher_vecnormalize: TeacherNormalization = None,
        distill_loss: str | None = None,
        jsd_beta: float = 0.5,
        preset: str | None = None,
        teacher_action_prob: TeacherActionProb | str = 0.0,
    ):
        self._init_distillation(teacher, distill_lambda, kl_mode, teacher_vecnormalize, distill_loss, jsd_beta)
        self.preset = preset
        self._init_mixing(teacher_action_prob, use_sde, policy_kwargs)
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            gamma=gamma,
            gae_lambda=gae_lambda,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            rollout_buffer_class=rollout_buffer_class,
            rollout_buffer_kwargs=rollout_buffer_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=_init_setup_model,
            supported_action_spaces=(spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary),
        )
        self._finish_init(_init_setup_model)

    def _init_mixing(self, teacher_action_prob: TeacherActionProb | str, use_sde: bool, policy_kwargs: Any) -> None:
        self.teacher_action_prob = check_teacher_action_prob(teacher_action_prob)
        if self._mixes() and use_sde and (policy_kwargs or {}).get("squash_output", False):
            raise ValueError(
                "teacher_action_prob with a squashed gSDE student: its entropy is estimated on the stored actions, "
                "which would be the teacher's where it acted; use an unsquashed policy, or teacher_action_prob=0."
            )
        self._executed_by_teacher = [0, 0]  # of the last rollout: steps where the teacher acted, steps

    def _excluded_save_params(self) -> list[str]:
        # β may be any callable, which a zip would pickle; like λ, it is given again to the constructor
        return [*super()._excluded_save_params(), "teacher_action_prob", "_mixing_rng", "_executed_by_teacher"]

    def _mixes(self) -> bool:
        """Whether the teacher may act: β is a schedule, or a number above 0."""
        return callable(self.teacher_action_prob) or self.teacher_action_prob > 0

    def current_teacher_action_prob(self) -> float:
        """β now, at ``num_timesteps``."""
        return teacher_action_prob_at(self.teacher_action_prob, self.num_timesteps)

    def _setup_model(self) -> None:
        super()._setup_model()
        # its own stream, so that mixing leaves the student's and the environments' random numbers as they were
        self._mixing_rng = np.random.default_rng(self.seed)

    def _start_rollout(self, n_envs: int) -> None:
        super()._start_rollout(n_envs)
        self._executed_by_teacher = [0, 0]
        if self._mixes():
            self._require_teacher().reset_noise(n_envs)

    def _teacher_act(self, obs: Obs) -> tuple[np.ndarray, th.Tensor, th.Tensor]:
        """The teacher's actions in the environment's units (of the policy, when it squashes), with its labels
        and values of the states it acts in."""
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

    def _act(self, obs: Obs) -> tuple[np.ndarray, th.Tensor, th.Tensor, th.Tensor | None, th.Tensor | None]:
        """The student's actions; with β, each environment executes the teacher's instead with probability β."""
        if not self._mixes():
            return super()._act(obs)
        actions, values, log_probs, _, _ = super()._act(obs)
        teacher_actions, teacher_params, teacher_values = self._teacher_act(obs)
        by_teacher = self._mixing_rng.random(len(actions)) < self.current_teacher_action_prob()
        actions = np.where(by_teacher.reshape(-1, *[1] * (actions.ndim - 1)), teacher_actions, actions)
        self._executed_by_teacher[0] += int(by_teacher.sum())
        self._executed_by_teacher[1] += len(by_teacher)
        return actions, values, log_probs, teacher_params, teacher_values

    def _label_after_rollout(self, rollout_buffer: LabelledBuffer) -> None:
        if not self._mixes():  # else the teacher labelled each state as it acted
            super()._label_after_rollout(rollout_buffer)

    def _teacher_observation_kept(self) -> bool:
        return not self._mixes() and super()._teacher_observation_kept()

    def train(self) -> None:
        """One gradient step on the whole rollout."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        lambda_ = self.current_lambda()
        distillation = self._distillation()
        # the actor's and the critic's gradients are clipped each on its own: the teacher's values can be large
        clip_gradients = GradientClip(self.policy)

        for rollout_data in self.rollout_buffer.get(batch_size=None):  # a single batch
            distribution, values = distribution_and_values(self.policy, rollout_data.observations)
            student_params = action_params(distribution)
            entropy = distribution.entropy()
            if entropy is None:  # no closed form (squashed gSDE): estimate it on the stored actions
                entropy = -distribution.log_prob(rollout_data.actions)
            entropy_loss = -th.mean(entropy)

            divergence = distillation(rollout_data.teacher_params, student_params)
            distillation_loss = divergence.mean()
            value_loss = F.mse_loss(values, rollout_data.teacher_values)

            loss = lambda_ * distillation_loss + self.vf_coef * value_loss + self.ent_coef * entropy_loss
            check_update(
                self._n_updates + 1,
                self.num_timesteps,
                loss,
                distillation_loss,
                self.max_divergence,
                dict(
                    distillation_loss=distillation_loss,
                    distill_lambda=lambda_,
                    value_loss=value_loss,
                    entropy_loss=entropy_loss,
                    loss=loss,
                ),
            )

            self.policy.optimizer.zero_grad()
            loss.backward()
            clip_gradients(self.max_grad_norm)
            self.policy.optimizer.step()

            agreement = action_agreement(rollout_data.teacher_params, student_params, self._action_param_spec)
            explained_var = explained_variance(values.detach().cpu().numpy(), rollout_data.teacher_values.cpu().numpy())

        self._n_updates += 1
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", loss.item())
        self.logger.record("train/value_loss", value_loss.item())
        self.logger.record("train/entropy_loss", entropy_loss.item())
        self.logger.record("train/explained_variance", explained_var)
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())
        teacher_kl = distillation.teacher_kl(divergence, rollout_data.teacher_params, student_params)
        record_distillation_logs(self.logger, lambda_, [distillation_loss.detach()], [teacher_kl], [agreement])
        if self._mixes():
            by_teacher, steps = self._executed_by_teacher
            self.logger.record("train/teacher_action_prob", self.current_teacher_action_prob())
            self.logger.record("train/teacher_actions", by_teacher / max(steps, 1))

    def learn(
        self: SelfStudentDistill,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 100,
        tb_log_name: str = "StudentDistill",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfStudentDistill:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
