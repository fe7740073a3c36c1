"""What the recurrent students share: sb3-contrib's recurrent rollouts with the teacher's labels, and the checks.

``RecurrentDistillation`` goes before :class:`sb3_contrib.RecurrentPPO` in a student's bases, after the
algorithm's own class. It keeps :class:`~sb3_distill.common.distillation_algorithm.DistillationAlgorithm`
for the teacher, λ, the loss and saving, and replaces what the feed-forward rollouts cannot do for an LSTM
student: ``collect_rollouts`` (``TeacherLabelledRollouts``' would otherwise shadow ``RecurrentPPO``'s and lose
the LSTM states), the rollout buffer, and the bootstrap of truncated episodes (whose value needs the
critic's LSTM state). The hooks ``_start_rollout``, ``_label_after_rollout`` and ``_teacher_observation_kept``
are the feed-forward ones; ``_act_recurrent`` replaces ``_act``.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.buffers import RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from sb3_distill.common.distillation_algorithm import DistillationAlgorithm
from sb3_distill.common.observation_normalizer import Obs
from sb3_distill.recurrent.buffers import RecurrentDistillationDictRolloutBuffer, RecurrentDistillationRolloutBuffer

__all__ = ["RecurrentDistillation", "check_recurrent_options"]

RecurrentLabelledBuffer = RecurrentDistillationRolloutBuffer | RecurrentDistillationDictRolloutBuffer


def check_recurrent_options(
    algorithm: str,
    use_sde: bool,
    rollout_buffer_class: type[RolloutBuffer] | None,
    rollout_buffer_kwargs: dict[str, Any] | None,
) -> None:
    """Refuse, before anything is built, the options a recurrent student cannot honour.

    :raises ValueError: naming the option and what to do instead
    """
    if use_sde:
        raise ValueError(
            f"{algorithm} does not support use_sde=True: sb3-contrib's recurrent rollouts clip actions instead of "
            "unscaling squashed gSDE actions, and a gSDE noise matrix is not carried along the LSTM's sequences. "
            "Use use_sde=False (a Gaussian with a learned log-std)."
        )
    if rollout_buffer_class is not None:
        raise ValueError(
            f"{algorithm} uses its own rollout buffer (sb3-contrib's recurrent buffer plus the teacher's labels); "
            f"rollout_buffer_class={getattr(rollout_buffer_class, '__name__', rollout_buffer_class)} is not supported. "
            "Leave rollout_buffer_class=None."
        )
    if rollout_buffer_kwargs:
        raise ValueError(
            f"{algorithm} builds its recurrent rollout buffer itself, as sb3-contrib's RecurrentPPO does; "
            f"rollout_buffer_kwargs={rollout_buffer_kwargs!r} is not supported. Leave rollout_buffer_kwargs=None."
        )


class RecurrentDistillation(DistillationAlgorithm):
    """sb3-contrib's ``RecurrentPPO`` rollouts with the teacher's labels stored per transition.

    By default the student acts, with its LSTM states handled exactly as ``RecurrentPPO`` does, and the
    whole rollout is labelled at its end (``_label_after_rollout``: the teacher reads ``teacher_inputs()``
    in step-major order, with ``rollout_buffer.episode_starts`` ``[n_steps, n_envs]`` for a teacher that
    needs the time order). A method in which the teacher acts overrides ``_act_recurrent`` and the hooks.
    """

    # set by RecurrentPPO (which leaves it unannotated: None until _setup_model)
    _last_lstm_states: Any
    rollout_buffer: RecurrentLabelledBuffer  # type: ignore[assignment]

    def _setup_teacher_labels(self) -> None:
        """(Re)build the recurrent rollout buffer so that it stores what the current teacher needs."""
        previous = getattr(self, "rollout_buffer", None)
        if previous is None:
            return
        view = self._privileged_view()
        buffer_class = (
            RecurrentDistillationDictRolloutBuffer
            if isinstance(self.observation_space, spaces.Dict)
            else RecurrentDistillationRolloutBuffer
        )
        self.rollout_buffer = buffer_class(
            self.n_steps,
            self.observation_space,
            self.action_space,
            previous.hidden_state_shape,  # the shape RecurrentPPO._setup_model chose for the student's LSTM
            device=self.device,
            gamma=self.gamma,
            gae_lambda=self.gae_lambda,
            n_envs=self.n_envs,
            n_teacher_params=self.teacher.spec.n_params if self.teacher is not None else self._action_param_spec.n_params,
            keep_teacher_values=self.needs_teacher_values,
            keep_teacher_observations=self._teacher_observation_kept(),
            teacher_observation_space=None if view is None else view.teacher_observation_space,
        )

    # ------------------------------------------------------------------ hooks

    def _act_recurrent(
        self, obs: Obs, lstm_states: RNNStates, episode_starts: th.Tensor
    ) -> tuple[np.ndarray, th.Tensor, th.Tensor, RNNStates, th.Tensor | None, th.Tensor | None]:
        """One step's actions, values, log-probabilities, the student's next LSTM states and, when already known,
        the teacher's labels and values. Runs under ``th.no_grad()``. Here the student acts; labels come later.

        :param obs: the observations the student sees
        :param lstm_states: the student's LSTM states before this step
        :param episode_starts: ``[n_envs]``, 1.0 where an episode starts (the LSTM states are reset there)
        """
        obs_tensor = obs_as_tensor(obs, self.device)  # type: ignore[arg-type]
        actions, values, log_probs, lstm_states = self.policy(obs_tensor, lstm_states, episode_starts)
        return actions.cpu().numpy(), values, log_probs, lstm_states, None, None

    def _bootstrap_truncated_recurrent(
        self, rewards: np.ndarray, dones: np.ndarray, infos: list[dict[str, Any]], lstm_states: RNNStates
    ) -> None:
        """``RecurrentPPO``'s bootstrap of truncated episodes (SB3 issue #633), in place: γ·V(terminal observation)
        from the critic's LSTM state after the last step."""
        for idx, done in enumerate(dones):
            if done and infos[idx].get("terminal_observation") is not None and infos[idx].get("TimeLimit.truncated", False):
                terminal_obs = self.policy.obs_to_tensor(infos[idx]["terminal_observation"])[0]
                with th.no_grad():
                    terminal_lstm_state = (
                        lstm_states.vf[0][:, idx : idx + 1, :].contiguous(),
                        lstm_states.vf[1][:, idx : idx + 1, :].contiguous(),
                    )
                    episode_starts = th.tensor([False], dtype=th.float32, device=self.device)
                    terminal_value = self.policy.predict_values(terminal_obs, terminal_lstm_state, episode_starts)[0]  # type: ignore[call-arg,arg-type]
                rewards[idx] += self.gamma * terminal_value

    # ------------------------------------------------------------------ the rollout

    def collect_rollouts(
        self,
        env: VecEnv,
        callback: BaseCallback,
        rollout_buffer: RolloutBuffer,
        n_rollout_steps: int,
    ) -> bool:
        """sb3-contrib's ``RecurrentPPO.collect_rollouts``, with the teacher's labels stored alongside each transition."""
        assert isinstance(rollout_buffer, (RecurrentDistillationRolloutBuffer, RecurrentDistillationDictRolloutBuffer))
        assert self._last_obs is not None, "No previous observation was provided"
        teacher = self._require_teacher()
        self.policy.set_training_mode(False)

        n_steps = 0
        rollout_buffer.reset()
        self._start_rollout(env.num_envs)
        keep_teacher_view = rollout_buffer.keep_teacher_observations
        track_raw = teacher.obs_normalizer is not None and self._vec_normalize_env is not None

        callback.on_rollout_start()

        lstm_states = deepcopy(self._last_lstm_states)

        while n_steps < n_rollout_steps:
            with th.no_grad():
                episode_starts = th.tensor(self._last_episode_starts, dtype=th.float32, device=self.device)
                actions, values, log_probs, lstm_states, teacher_params, teacher_values = self._act_recurrent(
                    self._last_obs,  # type: ignore[arg-type]
                    lstm_states,
                    episode_starts,
                )

            clipped_actions = actions
            if isinstance(self.action_space, spaces.Box):
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

            self._bootstrap_truncated_recurrent(rewards, dones, infos, lstm_states)

            step = rollout_buffer.pos
            rollout_buffer.add(
                self._last_obs,  # type: ignore[arg-type]
                actions,
                rewards,
                self._last_episode_starts,  # type: ignore[arg-type]
                values,
                log_probs,
                lstm_states=self._last_lstm_states,  # the states this step started from, as RecurrentPPO stores
            )
            rollout_buffer.add_teacher_step(step, teacher_obs, teacher_params, teacher_values)

            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
            self._last_lstm_states = lstm_states
            if track_raw:
                self._last_original_obs = self._vec_normalize_env.get_original_obs()  # type: ignore[union-attr]

        with th.no_grad():
            episode_starts = th.tensor(dones, dtype=th.float32, device=self.device)
            values = self.policy.predict_values(obs_as_tensor(new_obs, self.device), lstm_states.vf, episode_starts)  # type: ignore[arg-type,call-arg]

        rollout_buffer.compute_returns_and_advantage(last_values=values, dones=dones)
        self._label_after_rollout(rollout_buffer)  # type: ignore[arg-type]

        callback.update_locals(locals())
        callback.on_rollout_end()
        return True
