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
from sb3_distill.common.distillation_algorithm import DistillLambda, TeacherSource
from sb3_distill.common.distillation_logs import action_agreement, record_distillation_logs
from sb3_distill.common.observation_normalizer import Obs
from sb3_distill.common.policy_forward import distribution_and_values
from sb3_distill.common.presets import PAPER_ONLINE, accepts_presets
from sb3_distill.common.student_terms import GradientClip
from sb3_distill.common.teacher import TeacherNormalization
from sb3_distill.common.training_guard import check_update
from sb3_distill.student_distill.mixing import TeacherActionMixing, TeacherActionProb

SelfStudentDistill = TypeVar("SelfStudentDistill", bound="StudentDistill")


class StudentDistill(TeacherActionMixing):
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

    def _act(self, obs: Obs) -> tuple[np.ndarray, th.Tensor, th.Tensor, th.Tensor | None, th.Tensor | None]:
        """The student's actions; with β, each environment executes the teacher's instead with probability β."""
        if not self._mixes():
            return super()._act(obs)
        actions, values, log_probs, _, _ = super()._act(obs)
        teacher_actions, teacher_params, teacher_values = self._teacher_act(obs)
        return self._mix(actions, teacher_actions), values, log_probs, teacher_params, teacher_values

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
        self._record_mixing()

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
