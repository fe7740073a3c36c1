"""One forward pass through an actor-critic policy that yields both its action distribution and its values."""

from __future__ import annotations

import torch as th
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import PyTorchObs


def distribution_and_values(policy: ActorCriticPolicy, obs: PyTorchObs) -> tuple[Distribution, th.Tensor]:
    """The same computation as ``ActorCriticPolicy.evaluate_actions``, but returning the distribution itself.

    The distillation losses need the distribution's parameters next to log-probabilities, entropy and
    values; calling ``evaluate_actions`` and then ``get_distribution`` would run the actor twice.

    :return: the action distribution and the values, shape ``[batch]``
    """
    latent_pi, values = actor_latent_and_values(policy, obs)
    return policy._get_action_dist_from_latent(latent_pi), values


def actor_latent_and_values(policy: ActorCriticPolicy, obs: PyTorchObs) -> tuple[th.Tensor, th.Tensor]:
    """The actor's latent features (the input of ``action_net``) and the values, shape ``[batch]``."""
    features = policy.extract_features(obs)
    if policy.share_features_extractor:
        latent_pi, latent_vf = policy.mlp_extractor(features)
    else:
        pi_features, vf_features = features
        latent_pi = policy.mlp_extractor.forward_actor(pi_features)
        latent_vf = policy.mlp_extractor.forward_critic(vf_features)
    return latent_pi, policy.value_net(latent_vf).flatten()
