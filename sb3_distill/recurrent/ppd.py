"""Proximal Policy Distillation with a recurrent (LSTM) student built on sb3-contrib's ``RecurrentPPO``."""

from __future__ import annotations

from typing import Any, TypeVar

import torch as th
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule

from sb3_distill.common.distillation_algorithm import DistillLambda, TeacherSource
from sb3_distill.common.distillation_logs import PPOLosses, action_agreement, record_distillation_logs, record_ppo_logs
from sb3_distill.common.student_terms import GradientClip
from sb3_distill.common.teacher import TeacherNormalization
from sb3_distill.common.training_guard import check_update
from sb3_distill.recurrent.rollouts import RecurrentDistillation, check_recurrent_options
from sb3_distill.recurrent.terms import recurrent_student_terms

__all__ = ["RecurrentPPD"]

SelfRecurrentPPD = TypeVar("SelfRecurrentPPD", bound="RecurrentPPD")


class RecurrentPPD(RecurrentDistillation, RecurrentPPO):
    """Proximal Policy Distillation (PPD) with an LSTM student: sb3-contrib's ``RecurrentPPO`` plus the
    proximal distillation term. Each minibatch of padded sequences minimises::

        L = L_PPO-clip + c_v * L_value - c_e * H + λ * mean_mask( max(ratio, 1 - ε) * KL(π_teacher || π_θ) )

    where every mean, PPO's terms as in ``RecurrentPPO.train`` and the distillation term alike, runs over the
    real steps of the sequences (the samples' ``mask``), never over their padding. The student acts; the
    rollout is labelled by the teacher once, at its end. The model saves as a plain ``RecurrentPPO`` zip.

    Takes every argument of :class:`sb3_contrib.RecurrentPPO` (policies ``MlpLstmPolicy``, ``CnnLstmPolicy``,
    ``MultiInputLstmPolicy``), plus:

    :param rollout_buffer_class: must be ``None``: the student uses its own recurrent buffer (given only so
        that configurations written for :class:`~sb3_distill.PPD` get a clear error)
    :param rollout_buffer_kwargs: must be ``None`` (as above)
    :param teacher: optional teacher (an SB3 model, its policy, or the path of its .zip); the same as
        calling :meth:`set_teacher` after construction
    :param distill_lambda: λ, a number >= 0 or a callable of the elapsed timesteps
    :param kl_mode: ``"forward"`` (KL(teacher || student), the paper's) or ``"reverse"``
    :param teacher_vecnormalize: the teacher's observation statistics (``VecNormalize`` or .pkl path)
    :param distill_loss: ``"forward_kl"`` (default; ``"mse"`` for SAC, TD3, DDPG and TQC teachers),
        ``"reverse_kl"``, ``"jsd"``, ``"nll"``, ``"mse"`` or ``"huber"``
    :param jsd_beta: β of the generalised Jensen-Shannon divergence
    :raises ValueError: for ``use_sde=True``, a ``rollout_buffer_class`` or ``rollout_buffer_kwargs``
    """

    def __init__(
        self,
        policy: str | type[RecurrentActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        n_steps: int = 128,
        batch_size: int | None = 128,
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
        target_kl: float | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
        rollout_buffer_class: type[RolloutBuffer] | None = None,
        rollout_buffer_kwargs: dict[str, Any] | None = None,
        teacher: TeacherSource | None = None,
        distill_lambda: DistillLambda = 1.0,
        kl_mode: str = "forward",
        teacher_vecnormalize: TeacherNormalization = None,
        distill_loss: str | None = None,
        jsd_beta: float = 0.5,
    ):
        check_recurrent_options(type(self).__name__, use_sde, rollout_buffer_class, rollout_buffer_kwargs)
        self._init_distillation(teacher, distill_lambda, kl_mode, teacher_vecnormalize, distill_loss, jsd_beta)
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
        """One PPD update: ``RecurrentPPO.train``'s ``n_epochs`` passes over padded sequences, plus the distillation term."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)  # type: ignore[operator]
        if self.clip_range_vf is not None:
            clip_range_vf = self.clip_range_vf(self._current_progress_remaining)  # type: ignore[operator]
        lambda_ = self.current_lambda()
        distillation = self._distillation()
        # As PPD: with a distillation term, the actor's and the critic's gradients (the critic's LSTM included) are
        # clipped each on its own; with λ = 0 the update is RecurrentPPO's, with its single clip.
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

                # padded steps are excluded from every mean, as in RecurrentPPO.train
                mask = rollout_data.mask > 1e-8

                student = recurrent_student_terms(
                    self.policy,  # type: ignore[arg-type]
                    rollout_data.observations,
                    actions,
                    rollout_data.lstm_states,
                    rollout_data.episode_starts,
                    mask,
                    rollout_data.teacher_params,
                    distillation,
                )
                log_prob, entropy, values = student.log_prob, student.entropy, student.values
                advantages = rollout_data.advantages
                if self.normalize_advantage:
                    advantages = (advantages - advantages[mask].mean()) / (advantages[mask].std() + 1e-8)

                ratio = th.exp(log_prob - rollout_data.old_log_prob)

                policy_loss_1 = advantages * ratio
                policy_loss_2 = advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)
                policy_loss = -th.mean(th.min(policy_loss_1, policy_loss_2)[mask])

                if self.clip_range_vf is None:
                    values_pred = values
                else:
                    values_pred = rollout_data.old_values + th.clamp(
                        values - rollout_data.old_values, -clip_range_vf, clip_range_vf
                    )
                value_loss = th.mean(((rollout_data.returns - values_pred) ** 2)[mask])

                if entropy is None:
                    entropy_loss = -th.mean(-log_prob[mask])
                elif entropy.dim() == 0:  # the joint Gaussian form: the same entropy at every step
                    entropy_loss = -entropy
                else:
                    entropy_loss = -th.mean(entropy[mask])

                # max(ratio, 1 - ε) * divergence over the real steps (student.divergence is already masked);
                # the ratio is not detached, as in PPD.
                distillation_loss = th.mean(th.clamp(ratio[mask], min=1 - clip_range) * student.divergence)

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
                    log_ratio = log_prob - rollout_data.old_log_prob
                    approx_kl_div = th.mean(((th.exp(log_ratio) - 1) - log_ratio)[mask]).cpu().numpy()
                    approx_kl_divs.append(approx_kl_div)
                    pg_losses.append(policy_loss.detach())
                    clip_fractions.append(th.mean((th.abs(ratio - 1) > clip_range).float()[mask]))
                    value_losses.append(value_loss.detach())
                    entropy_losses.append(entropy_loss.detach())
                    distillation_losses.append(distillation_loss.detach())
                if epoch == 0:  # every state once, under the policy that collected it
                    real_labels = rollout_data.teacher_params[mask]
                    teacher_kls.append(distillation.teacher_kl(student.divergence, real_labels, student.params))
                    agreements.append(action_agreement(real_labels, student.params, self._action_param_spec))

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
        self: SelfRecurrentPPD,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 1,
        tb_log_name: str = "RecurrentPPD",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfRecurrentPPD:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
