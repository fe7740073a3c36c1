"""The recurrent student's side of a distillation minibatch, and which of its parameters are the critic's.

``recurrent_student_terms`` is sb3-contrib's ``RecurrentActorCriticPolicy.evaluate_actions`` (one pass
through the LSTMs over the minibatch's padded sequences) that also returns what the distillation term
needs: the student's action-distribution parameters and the divergence to the teacher, on the real
(unpadded) steps only.
"""

from __future__ import annotations

from typing import NamedTuple

import torch as th
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from sb3_contrib.common.recurrent.type_aliases import RNNStates
from stable_baselines3.common.type_aliases import PyTorchObs

from sb3_distill.common.action_params import action_params
from sb3_distill.common.losses import DistillationLoss
from sb3_distill.common.student_terms import diag_gaussian_terms, has_shared_log_std

__all__ = ["RecurrentStudentTerms", "recurrent_student_terms"]


class RecurrentStudentTerms(NamedTuple):
    """Per-step quantities of one padded minibatch, all carrying gradients.

    :param log_prob: log π_θ(a|s) of the stored actions, ``[padded batch]`` (padded rows included, for the
        caller to mask as sb3-contrib does)
    :param entropy: the policy's entropy, ``[padded batch]``, or a scalar when it is the same at every state
    :param values: V_θ(s), ``[padded batch]``
    :param divergence: the unweighted distillation loss to the teacher at the real steps, ``[mask.sum()]``
    :param params: the student's flat distribution parameters at the real steps, or ``None`` when the joint
        Gaussian form was used
    """

    log_prob: th.Tensor
    entropy: th.Tensor | None
    values: th.Tensor
    divergence: th.Tensor
    params: th.Tensor | None


def recurrent_latents(
    policy: RecurrentActorCriticPolicy, observations: PyTorchObs, lstm_states: RNNStates, episode_starts: th.Tensor
) -> tuple[th.Tensor, th.Tensor]:
    """The actor's latent (input of ``action_net``) and the values ``[padded batch]``, as ``evaluate_actions``
    computes them: each sequence starts from its stored LSTM states and resets where an episode starts."""
    features = policy.extract_features(observations)  # type: ignore[arg-type]
    pi_features, vf_features = (features, features) if policy.share_features_extractor else features
    latent_pi, _ = policy._process_sequence(pi_features, lstm_states.pi, episode_starts, policy.lstm_actor)  # type: ignore[arg-type]
    if policy.lstm_critic is not None:
        latent_vf, _ = policy._process_sequence(vf_features, lstm_states.vf, episode_starts, policy.lstm_critic)  # type: ignore[arg-type]
    elif policy.shared_lstm:
        latent_vf = latent_pi.detach()  # sb3-contrib: the critic reuses the actor's LSTM without training it
    else:
        assert policy.critic is not None
        latent_vf = policy.critic(vf_features)
    latent_pi = policy.mlp_extractor.forward_actor(latent_pi)
    latent_vf = policy.mlp_extractor.forward_critic(latent_vf)
    return latent_pi, policy.value_net(latent_vf).flatten()


def recurrent_student_terms(
    policy: RecurrentActorCriticPolicy,
    observations: PyTorchObs,
    actions: th.Tensor,
    lstm_states: RNNStates,
    episode_starts: th.Tensor,
    mask: th.Tensor,
    teacher_params: th.Tensor,
    distillation: DistillationLoss,
) -> RecurrentStudentTerms:
    """One pass through the recurrent student and everything the distillation losses need from it.

    :param policy: the student
    :param observations: a padded minibatch of observations, ``[n_seq * max_length, ...]``
    :param actions: the stored actions, padded alike
    :param lstm_states: the LSTM states at the start of each sequence
    :param episode_starts: where episodes start, padded alike
    :param mask: ``True`` at the real steps, ``False`` at the padding
    :param teacher_params: the teacher's labels, padded alike
    :param distillation: the loss to the teacher
    """
    latent_pi, values = recurrent_latents(policy, observations, lstm_states, episode_starts)
    gaussian_kl_mode = distillation.joint_gaussian_kl_mode
    if gaussian_kl_mode is not None and has_shared_log_std(policy):
        # the joint Gaussian form of common.student_terms; padded rows (zero labels) stay finite and are dropped
        log_prob, entropy, kl = diag_gaussian_terms(
            policy.action_net(latent_pi), policy.log_std, actions, teacher_params, gaussian_kl_mode
        )
        return RecurrentStudentTerms(log_prob, entropy, values, kl[mask], None)
    distribution = policy._get_action_dist_from_latent(latent_pi)
    params = action_params(distribution)
    # The divergence is evaluated on the real steps only: a padded row's zero label is no distribution (zero
    # log-probabilities), and a non-finite divergence there would poison the gradient even if masked afterwards.
    real_params = params[mask]
    divergence = distillation(teacher_params[mask], real_params)
    return RecurrentStudentTerms(distribution.log_prob(actions), distribution.entropy(), values, divergence, real_params)
