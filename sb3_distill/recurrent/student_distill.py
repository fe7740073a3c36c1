"""Student-distill with a recurrent (LSTM) student built on sb3-contrib's ``RecurrentPPO``."""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import explained_variance

from sb3_distill.common.distillation_algorithm import DistillLambda, TeacherSource
from sb3_distill.common.distillation_logs import action_agreement, record_distillation_logs
from sb3_distill.common.observation_normalizer import Obs
from sb3_distill.common.student_terms import GradientClip
from sb3_distill.common.teacher import TeacherNormalization
from sb3_distill.common.training_guard import check_update
from sb3_distill.recurrent.rollouts import RecurrentDistillation, check_recurrent_options
from sb3_distill.recurrent.terms import recurrent_student_terms
from sb3_distill.student_distill.mixing import TeacherActionMixing, TeacherActionProb

__all__ = ["RecurrentStudentDistill"]

SelfRecurrentStudentDistill = TypeVar("SelfRecurrentStudentDistill", bound="RecurrentStudentDistill")


class RecurrentStudentDistill(TeacherActionMixing, RecurrentDistillation, RecurrentPPO):
    """Student-distill with an LSTM student: it collects ``n_steps`` per environment, then takes one gradient step on::

        L = λ * mean_mask KL(π_teacher || π_θ) + c_v * mean_mask (V_θ(s) - V_teacher(s))^2 - c_e * mean_mask H(π_θ)

    over the rollout's sequences (one per environment, split where episodes start), each run through the LSTM
    from the state it was collected with; the means run over the real steps, not the padding. The rewards
    are not used. The model saves as a plain ``RecurrentPPO`` zip (with ``batch_size=None`` and
    ``n_epochs=1``: one full-batch pass, so that it can continue as ``RecurrentPPO`` with whole rollouts).

    :param policy: ``MlpLstmPolicy``, ``CnnLstmPolicy``, ``MultiInputLstmPolicy`` or a ``RecurrentActorCriticPolicy``
    :param env: the environment to learn from (a Gymnasium id, an env, or a VecEnv)
    :param learning_rate: the learning rate, or a schedule of the remaining progress (1 to 0)
    :param n_steps: steps per environment per update, also the longest sequence the LSTM is trained on
    :param gamma: discount factor (only used for the rollout buffer's returns, which are logged)
    :param gae_lambda: GAE λ (as above)
    :param ent_coef: entropy coefficient
    :param vf_coef: weight of the value-distillation term
    :param max_grad_norm: gradient-norm clipping, of the actor's and the critic's gradients each on its own
    :param use_sde: must be ``False`` (see :func:`~sb3_distill.recurrent.rollouts.check_recurrent_options`)
    :param sde_sample_freq: unused without gSDE
    :param rollout_buffer_class: must be ``None`` (a recurrent distillation buffer is used)
    :param rollout_buffer_kwargs: must be ``None``
    :param stats_window_size: episodes over which rollout statistics are averaged
    :param tensorboard_log: TensorBoard log folder (None: no TensorBoard)
    :param policy_kwargs: keyword arguments of the policy (``net_arch``, ``lstm_hidden_size``, ...)
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
    :param teacher_action_prob: DAgger's β, as for :class:`~sb3_distill.StudentDistill`: the probability that an
        environment executes the teacher's action instead of the student's (the student's LSTM reads the same
        observations either way)
    :raises ValueError: for ``use_sde=True``, a ``rollout_buffer_class`` or ``rollout_buffer_kwargs``
    """

    needs_teacher_values = True

    def __init__(
        self,
        policy: str | type[RecurrentActorCriticPolicy],
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
        teacher_action_prob: TeacherActionProb | str = 0.0,
    ):
        check_recurrent_options(type(self).__name__, use_sde, rollout_buffer_class, rollout_buffer_kwargs)
        self._init_distillation(teacher, distill_lambda, kl_mode, teacher_vecnormalize, distill_loss, jsd_beta)
        self._init_mixing(teacher_action_prob, use_sde, policy_kwargs)
        super().__init__(
            policy,
            env,
            learning_rate=learning_rate,
            n_steps=n_steps,
            batch_size=None,  # one gradient step on the whole rollout
            n_epochs=1,
            gamma=gamma,
            gae_lambda=gae_lambda,
            ent_coef=ent_coef,
            vf_coef=vf_coef,
            max_grad_norm=max_grad_norm,
            use_sde=use_sde,
            sde_sample_freq=sde_sample_freq,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            verbose=verbose,
            seed=seed,
            device=device,
            _init_setup_model=_init_setup_model,
        )
        self._finish_init(_init_setup_model)

    def _act_recurrent(
        self, obs: Obs, lstm_states: RNNStates, episode_starts: th.Tensor
    ) -> tuple[np.ndarray, th.Tensor, th.Tensor, RNNStates, th.Tensor | None, th.Tensor | None]:
        """The student's actions and next LSTM states; with β, each environment executes the teacher's action
        instead with probability β."""
        actions, values, log_probs, lstm_states, _, _ = super()._act_recurrent(obs, lstm_states, episode_starts)
        if not self._mixes():
            return actions, values, log_probs, lstm_states, None, None
        teacher_actions, teacher_params, teacher_values = self._teacher_act(obs)
        return self._mix(actions, teacher_actions), values, log_probs, lstm_states, teacher_params, teacher_values

    def train(self) -> None:
        """One gradient step on the whole rollout's sequences."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        lambda_ = self.current_lambda()
        distillation = self._distillation()
        # the actor's and the critic's gradients are clipped each on its own: the teacher's values can be large
        clip_gradients = GradientClip(self.policy)

        for rollout_data in self.rollout_buffer.get(batch_size=None):  # a single batch
            actions = rollout_data.actions
            if isinstance(self.action_space, spaces.Discrete):
                actions = rollout_data.actions.long().flatten()
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
            if student.entropy is None:  # no closed form: estimate it on the stored actions
                entropy_loss = -th.mean(-student.log_prob[mask])
            elif student.entropy.dim() == 0:  # the joint Gaussian form: the same entropy at every step
                entropy_loss = -student.entropy
            else:
                entropy_loss = -th.mean(student.entropy[mask])

            distillation_loss = th.mean(student.divergence)  # already over the real steps only
            assert rollout_data.teacher_values is not None  # needs_teacher_values
            teacher_values = rollout_data.teacher_values[mask]
            value_loss = th.mean((student.values[mask] - teacher_values) ** 2)

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

            real_labels = rollout_data.teacher_params[mask]
            agreement = action_agreement(real_labels, student.params, self._action_param_spec)
            teacher_kl = distillation.teacher_kl(student.divergence, real_labels, student.params)
            explained_var = explained_variance(student.values[mask].detach().cpu().numpy(), teacher_values.cpu().numpy())

        self._n_updates += 1
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", loss.item())
        self.logger.record("train/value_loss", value_loss.item())
        self.logger.record("train/entropy_loss", entropy_loss.item())
        self.logger.record("train/explained_variance", explained_var)
        if hasattr(self.policy, "log_std"):
            self.logger.record("train/std", th.exp(self.policy.log_std).mean().item())
        record_distillation_logs(self.logger, lambda_, [distillation_loss.detach()], [teacher_kl], [agreement])
        self._record_mixing()

    def learn(
        self: SelfRecurrentStudentDistill,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 100,
        tb_log_name: str = "RecurrentStudentDistill",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfRecurrentStudentDistill:
        return super().learn(
            total_timesteps=total_timesteps,
            callback=callback,
            log_interval=log_interval,
            tb_log_name=tb_log_name,
            reset_num_timesteps=reset_num_timesteps,
            progress_bar=progress_bar,
        )
