"""Environments of every suite behind one call, ``make(env_id, n_envs, seed)``, for the library and the CLI.

Each suite (``suites.py``) decides the wrappers and normalisation the paper uses: classic control and
Box2D as Gymnasium registers them; MuJoCo behind ``VecNormalize`` (observations and rewards); Atari
with the paper's wrappers (``atari.py``); MinAtar with channel-first float grids (``minatar.py``);
Procgen through envpool (``procgen.py``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecEnv, VecFrameStack, VecNormalize

from sb3_distill.envs.suites import SUITES, Suite, suite_of

__all__ = ["SUITES", "Suite", "check_env_id", "env_slug", "frozen_copy", "make", "suite_of", "with_frame_stack"]


def env_slug(env_id: str) -> str:
    """A file or folder name for an environment id (``MinAtar/Breakout-v1`` -> ``MinAtar-Breakout-v1``)."""
    return env_id.replace("/", "-")


def check_env_id(env_id: str) -> Suite:
    """The suite of ``env_id``, once its games are registered with Gymnasium; raise if it cannot be made.

    :raises ValueError: the id is not registered
    :raises ImportError: the suite's extra (ale-py, minatar) is not installed
    """
    suite = suite_of(env_id)
    if suite.name == "atari":
        from sb3_distill.envs.atari import register as register_atari

        register_atari(env_id)
    elif suite.name == "minatar":
        from sb3_distill.envs.minatar import register as register_minatar

        register_minatar()
    if suite.name != "procgen" and env_id not in gym.registry:  # envpool ids are not Gymnasium's
        raise ValueError(f"unknown environment {env_id!r}: it is not registered with Gymnasium.")
    return suite


def make(
    env_id: str,
    n_envs: int = 1,
    seed: int | None = None,
    normalize: bool | None = None,
    training: bool = True,
    student_observation: Sequence[int] | None = None,
    privileged: bool = True,
    frame_stack: int = 1,
    **env_kwargs: Any,
) -> VecEnv:
    """``n_envs`` copies of ``env_id``, Monitor-wrapped, with the wrappers of its suite.

    With ``student_observation``, a partially observed task: the student reads those entries of the flat
    observation. ``privileged``: the teacher reads the full observation beside it (an
    :class:`~sb3_distill.common.teacher_views.ObservationGroups` under the ``VecNormalize``, which then
    normalises the student's entries only); otherwise the environment is the deployed one, the student's
    entries and nothing else.

    :param env_id: a Gymnasium id (classic, Box2D, MuJoCo v4/v5, ``*NoFrameskip-v4``, ``MinAtar/<Game>-v1``)
        or an envpool Procgen id (``CoinrunEasy-v0``)
    :param n_envs: number of environments (run in one process)
    :param seed: seed of the first copy; the others get ``seed + i``
    :param normalize: wrap in a fresh ``VecNormalize`` with the suite's settings (MuJoCo: observations and
        rewards; Atari, MinAtar, Procgen: rewards); ``None``: the suite's default (off for classic control)
    :param training: training (Atari: an episode ends at the first life loss; Procgen: the 200 training
        levels) or evaluation (full games; unseen Procgen levels)
    :param student_observation: entries of the flat observation the student reads; ``None``: all of it
    :param privileged: with ``student_observation``, keep the full observation for the teacher
    :param frame_stack: the student reads its last N observations: ``VecFrameStack`` on top of everything, the
        teacher reading one observation beneath it (and beneath the student's ``VecNormalize``)
    :param env_kwargs: passed to ``gym.make`` (Gymnasium suites only)
    """
    suite = check_env_id(env_id)
    if n_envs < 1:
        raise ValueError(f"n_envs must be >= 1, got {n_envs}.")
    if student_observation is not None and suite.name in ("atari", "procgen", "minatar"):
        raise ValueError(
            f"student_observation selects entries of a flat observation; {env_id} ({suite.name}) observes images. "
            "Give a classic-control, Box2D or MuJoCo task, or wrap your own environment in ObservationGroups."
        )
    if suite.name == "atari":
        from sb3_distill.envs.atari import make_atari

        env = make_atari(env_id, n_envs, seed, training)
    elif suite.name == "procgen":
        from sb3_distill.envs.procgen import make_procgen

        env = make_procgen(env_id, n_envs, seed, training)
    else:
        wrapper_class: Any = None
        if suite.name == "minatar":
            from sb3_distill.envs.minatar import ChannelsFirst

            wrapper_class = ChannelsFirst
        elif student_observation is not None:
            from sb3_distill.envs.partial import SelectObservation, SplitObservation

            entries = list(student_observation)
            view = SplitObservation if privileged else SelectObservation
            wrapper_class = functools.partial(view, indices=entries)
        try:
            env = make_vec_env(env_id, n_envs=n_envs, seed=seed, env_kwargs=env_kwargs or None, wrapper_class=wrapper_class)
        except gym.error.DependencyNotInstalled as error:
            extra = "pip install 'sb3-distill[mujoco]'" if suite.name == "mujoco" else "install what it names"
            raise ImportError(f"{env_id} cannot be made here: {error} ({extra}).") from None
        if student_observation is not None and privileged:
            from sb3_distill.common.teacher_views import ObservationGroups
            from sb3_distill.envs.partial import STUDENT_KEY, TEACHER_KEY

            env = ObservationGroups(env, STUDENT_KEY, TEACHER_KEY)
    if frame_stack > 1 and privileged and student_observation is None:
        from sb3_distill.common.teacher_views import SharedObservation

        env = SharedObservation(env)  # the teacher reads one observation, not the student's stack
    if normalize is None:
        normalize = suite.normalize_obs or suite.normalize_reward
    if normalize:
        if suite.name == "classic":  # an explicit request on a suite without a convention: both
            env = VecNormalize(env)
        else:
            env = VecNormalize(env, norm_obs=suite.normalize_obs, norm_reward=suite.normalize_reward)
    return with_frame_stack(env, frame_stack)


def with_frame_stack(env: VecEnv, frame_stack: int) -> VecEnv:
    """``env`` with its last ``frame_stack`` observations stacked (``VecFrameStack``, on top of any ``VecNormalize``,
    as the RL Zoo stacks); unchanged for 1."""
    return VecFrameStack(env, frame_stack) if frame_stack > 1 else env


def frozen_copy(env: VecEnv, training_env: VecEnv) -> VecEnv:
    """Wrap ``env`` with the observation statistics of ``training_env``'s ``VecNormalize``, frozen, rewards raw.

    Evaluation must see observations normalised as in training, but must neither update the
    statistics nor report normalised rewards. Without observation statistics to copy (no
    ``VecNormalize``, or one that normalises rewards only) the raw environment is returned.
    """
    if isinstance(env, VecNormalize):  # a fresh wrapper from make(): evaluate on the raw environment beneath
        env = env.venv
    if not isinstance(training_env, VecNormalize) or not training_env.norm_obs:  # nothing to apply (Atari: rewards only)
        return env
    evaluation = VecNormalize(env, training=False, norm_obs=training_env.norm_obs, norm_reward=False)
    evaluation.obs_rms = copy.deepcopy(training_env.obs_rms)
    evaluation.clip_obs = training_env.clip_obs
    evaluation.epsilon = training_env.epsilon
    return evaluation
