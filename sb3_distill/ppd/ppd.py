"""Proximal Policy Distillation (Spigler, TMLR 2025, arXiv 2407.15134)."""

from __future__ import annotations

from typing import Any, TypeVar

import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from torch.nn import functional as F

from sb3_distill.common.distillation_algorithm import DistillationAlgorithm, DistillLambda, TeacherSource
from sb3_distill.common.distillation_logs import PPOLosses, action_agreement, record_distillation_logs, record_ppo_logs
from sb3_distill.common.presets import PAPER_PPD, accepts_presets
from sb3_distill.common.student_terms import GradientClip, student_terms
from sb3_distill.common.teacher import TeacherNormalization
from sb3_distill.common.training_guard import check_update

SelfPPD = TypeVar("SelfPPD", bound="ProximalPolicyDistillation")


class ProximalPolicyDistillation(DistillationAlgorithm, PPO):
    """Proximal Policy Distillation (PPD): PPO on the student's own rollouts plus a proximal distillation term.

    Each minibatch minimises (paper Eq. 2)::

        L = L_PPO-clip + c_v * L_value - c_e * H + λ * mean( max(ratio, 1 - ε) * KL(π_teacher || π_θ) )

    with ``ratio = π_θ(a|s) / π_θ_old(a|s)``. The critic is learned from the rewards, as in PPO; the
    teacher's critic is not used. The teacher is labelled once per collected transition.

    Takes every argument of :class:`stable_baselines3.PPO`, plus:

    :param teacher: optional teacher (an SB3 model, its policy, or the path of its .zip); the same as
        calling :meth:`set_teacher` after construction, so that configuration files can name it
    :param distill_lambda: λ, a number >= 0 or a callable of the elapsed timesteps
    :param kl_mode: ``"forward"`` (KL(teacher || student), the paper's) or ``"reverse"``
    :param teacher_vecnormalize: the teacher's observation statistics (``VecNormalize`` or .pkl path)
    :param distill_loss: ``"forward_kl"`` (default; ``"mse"`` for SAC, TD3, DDPG and TQC teachers),
        ``"reverse_kl"``, ``"jsd"``, ``"nll"``, ``"mse"`` or ``"huber"``
    :param jsd_beta: β of the generalised Jensen-Shannon divergence
    :param preset: ``"paper"`` fills in the arguments not given with the paper's settings
        (:mod:`sb3_distill.common.presets`); ``None``: the defaults above
    """

    @accepts_presets({"paper": PAPER_PPD})
    def __init__(
        self,
        policy: str | type[ActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        n_steps: int = 2048,
        batch_size: int = 64,
        n_epochs: int = 10,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float | Schedule = 0.2,
        clip_range_vf: float | Schedule | None = None,
        normalize_advantage: bool = True,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        rollout_buffer_class: type[RolloutBuffer] | None = None,
        rollout_buffer_kwargs: dict[str, Any] | None = None,
        target_kl: float | None = None,
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
    ):
        self._init_distillation(teacher, distill_lambda, kl_mode, teacher_vecnormalize, distill_loss, jsd_beta)
        self.preset = preset
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            batch_size=batch_size,
            n_epochs=n_epochs,
            gamma=gamma,
            gae_lambda=gae_lambda,
            clip_range=clip_range,
            clip_range_vf=clip_range_vf,
            normalize_advantage=normalize_advantage,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            rollout_buffer_class=rollout_buffer_class,
            rollout_buffer_kwargs=rollout_buffer_kwargs,
            target_kl=target_kl,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=_init_setup_model,
        )
        self._finish_init(_init_setup_model)

    def train(self) -> None:
        """One PPD update: ``n_epochs`` passes of minibatch SGD over the rollout buffer."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)  # type: ignore[operator]
        if self.clip_range_vf is not None:
            clip_range_vf = self.clip_range_vf(self._current_progress_remaining)  # type: ignore[operator]
        lambda_ = self.current_lambda()
        distillation = self._distillation()
        # With a distillation term, the actor's and the critic's gradients are clipped each on its own, so that
        # value targets of large magnitude do not shrink the actor's step (GradientClip). Without one (λ = 0),
        # the update is PPO's exactly, with its single clip over all parameters.
        clip_gradients = GradientClip(self.policy, apart=lambda_ > 0)

        entropy_losses, pg_losses, value_losses, clip_fractions = [], [], [], []
        distillation_losses, teacher_kls, agreements = [], [], []

        continue_training = True
        for epoch in range(self.n_epochs):
            approx_kl_divs = []
            for rollout_data in self.rollout_buffer.get(self.batch_size):
                actions = rollout_data.actions
                if isinstance(self.action_space, spaces.Discrete):
                    actions = rollout_data.actions.long().flatten()

                # One actor pass per minibatch gives log π(a|s), entropy, V(s) and the divergence to the teacher.
                student = student_terms(
                    self.policy, rollout_data.observations, actions, rollout_data.teacher_params, distillation
                )
                log_prob, entropy, values = student.log_prob, student.entropy, student.values
                advantages = rollout_data.advantages
                if self.normalize_advantage and len(advantages) > 1:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)

                ratio = th.exp(log_prob - rollout_data.old_log_prob)

                # PPO's clipped surrogate
                policy_loss_1 = advantages * ratio
                policy_loss_2 = advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)
                policy_loss = -th.min(policy_loss_1, policy_loss_2).mean()

                if self.clip_range_vf is None:
                    values_pred = values
                else:
                    values_pred = rollout_data.old_values + th.clamp(
                        values - rollout_data.old_values, -clip_range_vf, clip_range_vf
                    )
                value_loss = F.mse_loss(rollout_data.returns, values_pred)

                if entropy is None:
                    entropy_loss = -th.mean(-log_prob)
                else:
                    entropy_loss = -th.mean(entropy)

                # Distillation term: max(ratio, 1 - ε) * KL (or the chosen divergence). Both factors are >= 0,
                # so this equals max(ratio * KL, clip(ratio, 1 - ε, 1 + ε) * KL); the ratio is not detached.
                distillation_loss = (th.clamp(ratio, min=1 - clip_range) * student.divergence).mean()

                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss + lambda_ * distillation_loss
                check_update(
                    self._n_updates + 1,
                    self.num_timesteps,
                    loss,
                    distillation_loss,
                    self.max_divergence,
                    dict(
                        policy_loss=policy_loss,
                        value_loss=value_loss,
                        entropy_loss=entropy_loss,
                        distillation_loss=distillation_loss,
                        distill_lambda=lambda_,
                        loss=loss,
                    ),
                )

                with th.no_grad():
                    # PPO logs the last epoch's approximate KL; earlier epochs only need it for target_kl
                    if self.target_kl is not None or epoch == self.n_epochs - 1:
                        log_ratio = log_prob - rollout_data.old_log_prob
                        approx_kl_div = th.mean((th.exp(log_ratio) - 1) - log_ratio).cpu().numpy()
                        approx_kl_divs.append(approx_kl_div)
                    pg_losses.append(policy_loss.detach())
                    clip_fractions.append(th.mean((th.abs(ratio - 1) > clip_range).float()))
                    value_losses.append(value_loss.detach())
                    entropy_losses.append(entropy_loss.detach())
                    distillation_losses.append(distillation_loss.detach())
                if epoch == 0:  # every state once, under the policy that collected it
                    teacher_kls.append(
                        distillation.teacher_kl(student.divergence, rollout_data.teacher_params, student.params)
                    )
                    agreements.append(action_agreement(rollout_data.teacher_params, student.params, self._action_param_spec))

                if self.target_kl is not None and approx_kl_div > 1.5 * self.target_kl:
                    continue_training = False
                    if self.verbose >= 1:
                        print(f"Early stopping at step {epoch} due to reaching max kl: {approx_kl_div:.2f}")
                    break

                self.policy.optimizer.zero_grad()
                loss.backward()
                clip_gradients(self.max_grad_norm)
                self.policy.optimizer.step()

            self._n_updates += 1
            if not continue_training:
                break

        record_ppo_logs(
            self,
            PPOLosses(entropy_losses, pg_losses, value_losses, approx_kl_divs, clip_fractions, loss),
            clip_range,
            clip_range_vf if self.clip_range_vf is not None else None,
        )
        record_distillation_logs(self.logger, lambda_, distillation_losses, teacher_kls, agreements)

    def learn(
        self: SelfPPD,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "PPD",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfPPD:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )


PPD = ProximalPolicyDistillation
