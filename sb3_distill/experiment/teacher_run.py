"""Train a PPO teacher from a config, and save it where a distillation run can find it."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from typing import Any

from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill import envs
from sb3_distill.common.teacher_sources import CONFIG_FILE, load_teacher
from sb3_distill.experiment.configs import ConfigError, TeacherConfig
from sb3_distill.evaluation import Score, evaluation_env, score
from sb3_distill.experiment.run_folder import prepare_output_dir
from sb3_distill.student_sizes import teacher_policy_kwargs


@dataclass(frozen=True)
class TeacherResult:
    """A trained teacher: where it is, how it scored, and the ``config.json`` written beside it."""

    path: str
    score: Score
    record: dict[str, Any]


def train_teacher(
    config: TeacherConfig,
    out_dir: str,
    progress_bar: bool = False,
    verbose: int = 1,
    command: str | None = None,
    device: str = "auto",
    tensorboard_log: str | None = None,
) -> TeacherResult:
    """Train ``config``'s PPO teacher into ``out_dir`` as ``<ENV>.zip`` (the RL Zoo's name), with its
    ``vecnormalize.pkl`` when it normalises, TensorBoard logs in ``tb/`` and ``config.json`` (its env, how it
    was trained and its score, which distillation runs read).

    :param config: the teacher's settings
    :param out_dir: the teacher's folder
    :param progress_bar: show SB3's progress bar
    :param verbose: 0: silent; 1: where the teacher was saved and its score
    :param command: the command line that started the training, recorded in ``config.json``
    :param device: the torch device of training (``auto``: CUDA when available)
    :param tensorboard_log: the TensorBoard folder; ``None``: ``tb/`` in ``out_dir``
    """
    suite = envs.suite_of(config.env)
    arguments = config.algorithm_arguments()  # lin_ schedules and policy_kwargs text as PPO takes them
    policy = config.policy or suite.policy
    policy_kwargs = {} if suite.name == "classic" else teacher_policy_kwargs(suite.name)
    policy_kwargs.update(arguments.pop("policy_kwargs", None) or {})
    if config.net_arch:
        policy_kwargs["net_arch"] = {"pi": list(config.net_arch), "vf": list(config.net_arch)}
    env = envs.make(config.env, config.n_envs, config.seed, normalize=config.normalize)
    created = not os.path.exists(out_dir)
    out = prepare_output_dir(out_dir)

    try:
        model = PPO(
            policy,
            env,
            seed=config.seed,
            tensorboard_log=tensorboard_log or os.path.join(out, "tb"),
            policy_kwargs=policy_kwargs,
            device=device,
            **arguments,
        )
    except (AssertionError, TypeError, ValueError) as error:  # SB3 checks its arguments with assert
        if created:  # nothing was trained: a refused teacher leaves no folder behind
            shutil.rmtree(out, ignore_errors=True)
        raise ConfigError(f"params: PPO refused its arguments {dict(config.params)}: {error}", "params") from error
    model.learn(config.steps, progress_bar=progress_bar, tb_log_name="teacher")

    model_path = os.path.join(out, f"{envs.env_slug(config.env)}.zip")  # the RL Zoo names namespaced ids so too
    model.save(model_path)
    normalized = isinstance(env, VecNormalize)
    if isinstance(env, VecNormalize):
        env.save(os.path.join(out, "vecnormalize.pkl"))
    teacher = load_teacher(model_path)
    result = score(
        teacher, evaluation_env(config.env, config.seed), config.eval_episodes, deterministic=suite.deterministic_eval
    )

    record = {
        "command": command,
        "env": config.env,
        "algo": "ppo",
        "steps": config.steps,
        "seed": config.seed,
        "n_envs": config.n_envs,
        "normalize": normalized,
        "policy": policy,
        "policy_kwargs": {"net_arch": policy_kwargs.get("net_arch")},
        "params": dict(config.params),  # as given: schedules and policy_kwargs text stay text
        "eval_mean_return": result.mean,
        "eval_std_return": result.std,
        "eval_episodes": result.episodes,
    }
    with open(os.path.join(out, CONFIG_FILE), "w") as file:
        json.dump(record, file, indent=2)
    if verbose:
        print(f"teacher saved to {model_path}")
        print(f"teacher mean return over {result.episodes} episodes: {result.mean:.1f} +/- {result.std:.1f}")
    return TeacherResult(model_path, result, record)
