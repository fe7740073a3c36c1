"""A trained agent as it is deployed: its zip, its frozen observation statistics, and the environment it runs in.

Export, ``evaluate`` and packaging all start from a source a user names: a distillation run folder, a
``train-teacher`` or ``corrupt`` folder, an RL Zoo run folder, or a bare SB3 zip. :func:`find_deployable`
resolves it once; everything is then read safely (no pickled code runs unless ``trust_pickle``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from sb3_distill import envs
from sb3_distill.common.observation_normalizer import read_vec_normalize
from sb3_distill.common.teacher_sources import (
    CONFIG_FILE,
    policy_from_zip,
    resolve_file_source,
    teacher_env_id,
    zoo_frame_stack,
)
from sb3_distill.evaluation import evaluation_env

#: What a distillation run folder holds (``sb3_distill.experiment.distillation_run`` writes them).
RUN_STUDENT_FILE = "student.zip"
RUN_VECNORMALIZE_FILE = "vecnormalize.pkl"
RUN_RESULTS_FILE = "results.json"


@dataclass(frozen=True)
class Deployable:
    """Where a trained agent's files are, and how its environment is built.

    :param zip_path: the SB3 model zip
    :param vecnormalize_path: its saved ``VecNormalize`` (observation statistics), or ``None``
    :param env_id: the Gymnasium (or envpool) id of its environment, as ``sb3_distill.envs.make`` builds it
    :param frame_stack: the observations it reads are its last N (``VecFrameStack``)
    :param student_observation: the entries of the flat observation it reads (a partially observed student)
    :param trained_with_vecnormalize: its run says it was trained behind a ``VecNormalize`` that normalised
        observations (``None``: nothing says either way, as for a bare zip)
    """

    zip_path: str
    vecnormalize_path: str | None
    env_id: str
    frame_stack: int = 1
    student_observation: tuple[int, ...] | None = None
    trained_with_vecnormalize: bool | None = None

    def policy(self, trust_pickle: bool = False) -> BasePolicy:
        """The policy, rebuilt from the zip on the CPU, in evaluation mode."""
        policy = policy_from_zip(self.zip_path, "cpu", trust_pickle)
        policy.set_training_mode(False)
        return policy

    def vec_normalize(self, venv: VecEnv, trust_pickle: bool = False) -> VecNormalize | None:
        """The saved statistics over ``venv``, frozen: observations normalised as in training, rewards raw."""
        if self.vecnormalize_path is None:
            return None
        loaded = read_vec_normalize(self.vecnormalize_path, trust_pickle)
        if not loaded.norm_obs:
            return None  # rewards only (Atari, MinAtar): nothing changes what the policy reads
        loaded.set_venv(venv)
        loaded.training = False
        loaded.norm_reward = False
        return loaded

    def raw_env(self, seed: int, offset: int = 0) -> VecEnv:
        """One evaluation environment (the suite's protocol), without statistics or frame stacking: what the
        deployed agent's observation comes from."""
        return evaluation_env(self.env_id, seed, offset, student_observation=self.student_observation)

    def env(self, seed: int, offset: int = 0, trust_pickle: bool = False) -> VecEnv:
        """The evaluation environment behind the agent's frozen statistics and frame stacking, where
        ``predict`` acts as it did in the run's own evaluation."""
        raw = self.raw_env(seed, offset)
        normalized = self.vec_normalize(raw, trust_pickle)
        return envs.with_frame_stack(normalized if normalized is not None else raw, self.frame_stack)


def find_deployable(source: str, env: str | None = None, best: bool = False) -> Deployable:
    """Resolve a run folder, a ``train-teacher``/``corrupt`` folder, an RL Zoo run folder or a zip.

    :param source: the folder or the ``.zip``
    :param env: the environment id, for a zip whose folder does not record it
    :param best: take the folder's ``best_model.zip`` (a run with periodic evaluation, or an RL Zoo run)
    :raises FileNotFoundError: nothing to deploy there
    :raises ValueError: the environment is not recorded and ``env`` is not given, or contradicts the record
    """
    results = os.path.join(source, RUN_RESULTS_FILE)
    if os.path.isdir(source) and os.path.isfile(results):
        return _run_folder(source, env, best)
    if os.path.isdir(source) and not os.path.isfile(os.path.join(source, CONFIG_FILE)) and _is_unfinished_run(source):
        raise FileNotFoundError(
            f"{source!r} is a run folder without results.json: the run has not finished. Finish it with "
            f"sb3-distill distill --resume {source}, or pass one of its checkpoints' zips."
        )
    if not os.path.exists(source) and not os.path.isfile(source + ".zip"):
        raise FileNotFoundError(
            f"Nothing to deploy at {source!r}: expected a distill run folder (student.zip, results.json), a "
            "train-teacher or package folder, an RL Zoo run folder (logs/<algo>/<Env>_<id>/) or an SB3 .zip."
        )
    zip_path, stats, _ = resolve_file_source(source, best)
    recorded = teacher_env_id(source)
    if env is not None and recorded is not None and env != recorded:
        raise ValueError(f"{source!r} was trained on {recorded}, not {env}; leave the environment out or name {recorded}.")
    env_id = env or recorded
    if env_id is None:
        raise ValueError(
            f"Nothing beside {zip_path!r} says which environment it runs in (no config.json, no RL Zoo folder name). "
            "Name it: --env ENV_ID (from Python: env='ENV_ID')."
        )
    suite = envs.check_env_id(env_id)
    frame_stack, student_observation = _recorded_view(zip_path)
    if os.path.isdir(source) and frame_stack == 1 and suite.name != "atari":  # Atari: the suite stacks 4 itself
        frame_stack = zoo_frame_stack(source)
    return Deployable(zip_path, stats, env_id, frame_stack, student_observation)


def _recorded_view(zip_path: str) -> tuple[int, tuple[int, ...] | None]:
    """How the agent reads its observations, where a ``config.json`` beside its zip records a distillation's
    config (``sb3-distill package`` writes one): its frame stack and its entries of the observation."""
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(zip_path)), CONFIG_FILE), encoding="utf-8") as file:
            record = json.load(file)
    except (OSError, ValueError):
        return 1, None
    config = record.get("config") if isinstance(record, dict) else None
    if not isinstance(config, dict):
        return 1, None
    entries = config.get("student_observation")
    return int(config.get("frame_stack") or 1), tuple(int(i) for i in entries) if entries else None


def _run_folder(folder: str, env: str | None, best: bool) -> Deployable:
    from sb3_distill.experiment.distillation_run import read_result

    result = read_result(folder)
    assert result is not None
    config = result.config
    if env is not None and env != config.env:
        raise ValueError(f"{folder!r} ran on {config.env}, not {env}; leave the environment out or name {config.env}.")
    assert config.env is not None
    zip_path = os.path.join(folder, "best_model.zip" if best else RUN_STUDENT_FILE)
    stats_name = "best_model_vecnormalize.pkl" if best else RUN_VECNORMALIZE_FILE
    if not os.path.isfile(zip_path):
        hint = " (it keeps one only with --eval-every)" if best else ""
        raise FileNotFoundError(f"Run folder {folder!r} has no {os.path.basename(zip_path)}{hint}.")
    stats = os.path.join(folder, stats_name)
    trained_with = _normalised_observations(config.env, config.normalize)
    if trained_with and not os.path.isfile(stats):
        raise FileNotFoundError(
            f"{folder!r} was trained behind a VecNormalize, but its statistics ({stats_name}) are missing: the "
            "student would read unnormalised observations. Restore the file from where the run was written."
        )
    return Deployable(
        zip_path,
        stats if os.path.isfile(stats) else None,
        config.env,
        config.frame_stack,
        config.student_observation,
        trained_with,
    )


def _normalised_observations(env_id: str, normalize: bool | None) -> bool:
    suite = envs.check_env_id(env_id)
    if normalize is None:
        return suite.normalize_obs
    return bool(normalize) and (suite.name == "classic" or suite.normalize_obs)


def _is_unfinished_run(folder: str) -> bool:
    return os.path.isdir(os.path.join(folder, "checkpoints")) or os.path.isfile(os.path.join(folder, ".lock"))
