"""Train a PPO teacher from a config, with checkpoints, and save it where a distillation run can find it.

A teacher folder holds::

    <Env>.zip, vecnormalize.pkl   the teacher (a plain SB3 zip) and, when it normalises, its statistics
    config.json                   written last, when the teacher is finished: its env, how it was trained, its
                                  score (a distillation run reads it; it marks the folder a teacher source)
    checkpoints/                  the latest checkpoints (teacher.zip, vecnormalize.pkl, rng.json and a manifest
                                  storing the config; see sb3_distill.runs)
    tb/                           TensorBoard logs

:func:`train_teacher` starts the training and :func:`resume_teacher` continues it from its latest usable
checkpoint, with the settings it was started with. A SIGINT or SIGTERM during training saves a checkpoint and
raises :class:`~sb3_distill.runs.RunInterrupted`; a training killed outright loses only the steps since its last
checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from sb3_distill import envs
from sb3_distill.common.atomic_files import DamagedRecord, atomic_path, read_json_record, write_json_atomically
from sb3_distill.common.safe_loading import UnsafePickleError, load_model
from sb3_distill.common.teacher_sources import CONFIG_FILE, load_teacher
from sb3_distill.evaluation import Score, evaluation_env, score
from sb3_distill.experiment.configs import ConfigError, TeacherConfig
from sb3_distill.experiment.distillation_run import RunProgress
from sb3_distill.experiment.run_folder import RunFolder
from sb3_distill.runs import Checkpointing, RunInterrupted, last_good_checkpoint, latest_checkpoint, stop_on_signals
from sb3_distill.runs.checkpoints import (
    CHECKPOINTS,
    TEACHER,
    Checkpoint,
    CheckpointError,
    restore_rng,
    restore_vecnormalize,
)
from sb3_distill.student_sizes import teacher_policy_kwargs

VECNORMALIZE_FILE = "vecnormalize.pkl"

#: What a refusal of a teacher checkpoint's file advises.
CHECKPOINT_ADVICE = (
    "A teacher folder that sb3-distill wrote holds only allow-listed types, so this file was changed or comes from "
    "elsewhere. If you trust it, resume with --trust-pickle (from Python: resume_teacher(out_dir, trust_pickle=True))."
)


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
    callbacks: Sequence[BaseCallback] = (),
) -> TeacherResult:
    """Train ``config``'s PPO teacher into ``out_dir`` as ``<ENV>.zip`` (the RL Zoo's name), with its
    ``vecnormalize.pkl`` when it normalises, TensorBoard logs in ``tb/``, checkpoints in ``checkpoints/``
    and, last, ``config.json`` (its env, how it was trained and its score, which distillation runs read).

    Checkpoints come every ``config.checkpoint_interval`` timesteps and when training ends, before the teacher
    is evaluated; a SIGINT or SIGTERM saves one and stops. Continue with :func:`resume_teacher`. Checkpoints and
    ``config.json`` an earlier training left in ``out_dir`` are removed first.

    :param config: the teacher's settings
    :param out_dir: the teacher's folder
    :param progress_bar: show a progress bar
    :param verbose: 0: silent; 1: where the teacher was saved and its score
    :param command: the command line that started the training, recorded in ``config.json``
    :param device: the torch device of training (``auto``: CUDA when available)
    :param tensorboard_log: the TensorBoard folder; ``None``: ``tb/`` in ``out_dir``
    :param callbacks: SB3 callbacks passed to ``learn`` with the training's own
    :raises RunInterrupted: a SIGINT or SIGTERM stopped training; a checkpoint was saved
    """
    env = envs.make(config.env, config.n_envs, config.seed, normalize=config.normalize)
    folder = RunFolder(out_dir)
    try:  # everything that can refuse the teacher, before anything of an earlier training in the folder is touched
        model = _new_teacher(config, env, tensorboard_log or os.path.join(folder.path, "tb"), device)
    except BaseException:
        folder.discard()  # nothing was trained: a refused teacher leaves no folder behind
        raise
    with folder:
        _forget_earlier_training(folder.path, verbose)
        return _train(model, config, folder.path, None, callbacks, progress_bar, verbose, command)


def resume_teacher(
    out_dir: str,
    progress_bar: bool = False,
    verbose: int = 1,
    command: str | None = None,
    device: str = "auto",
    tensorboard_log: str | None = None,
    trust_pickle: bool = False,
    callbacks: Sequence[BaseCallback] = (),
) -> TeacherResult:
    """Continue the teacher training in ``out_dir`` from its latest usable checkpoint, with the stored settings.

    Restored: the weights and optimizer state, ``num_timesteps`` (schedules go on where they were), the
    ``VecNormalize`` statistics, the Python, NumPy and torch random states and the TensorBoard curve. The
    environments start new episodes, so the teacher is not bit-identical to one trained without a stop. A
    finished teacher (its ``config.json`` is there) is left as it is, and its result returned.

    :param out_dir: a folder :func:`train_teacher` wrote
    :param progress_bar: show a progress bar
    :param verbose: 0: silent; 1: what is resumed and where the teacher is saved
    :param command: the command line that resumed the training, recorded in ``config.json``
    :param device: the torch device of training (``auto``: CUDA when available)
    :param tensorboard_log: the TensorBoard folder; ``None``: the training's own
    :param trust_pickle: read the checkpoint's files without the allow-list of safe types (only for folders you
        trust); a folder cannot grant this itself
    :param callbacks: SB3 callbacks passed to ``learn`` with the training's own
    :raises CheckpointError: the folder holds no usable checkpoint of a teacher
    :raises UnsafePickleError: a checkpoint file holds something outside the allow-list
    :raises RunInterrupted: a SIGINT or SIGTERM stopped training again; a checkpoint was saved
    """
    if not os.path.isdir(out_dir):
        raise FileNotFoundError(f"No teacher folder {os.path.abspath(out_dir)!r} to resume; train it without --resume.")
    with RunFolder(out_dir) as folder:
        out = folder.path
        finished = read_teacher_result(out)
        if finished is not None:
            if verbose:
                print(f"{out} is a finished teacher ({finished.record.get('steps')} timesteps); nothing changed")
            return finished
        checkpoint = latest_checkpoint(out)
        config = teacher_config(checkpoint)
        env = envs.make(config.env, config.n_envs, config.seed, normalize=config.normalize)
        try:
            if checkpoint.has_vecnormalize:
                env = restore_vecnormalize(checkpoint, env, trust_pickle)
            model = load_model(PPO, checkpoint.path(TEACHER), env=env, device=device, trust_pickle=trust_pickle)
        except UnsafePickleError as error:
            raise error.with_advice(CHECKPOINT_ADVICE) from None
        if tensorboard_log is not None:
            model.tensorboard_log = tensorboard_log
        restore_rng(checkpoint)
        if verbose:
            print(f"resuming {out} from {checkpoint.folder} ({model.num_timesteps} of {config.steps} timesteps)")
        return _train(model, config, out, checkpoint, callbacks, progress_bar, verbose, command)


def read_teacher_result(out_dir: str) -> TeacherResult | None:
    """The finished teacher of ``out_dir`` (its ``config.json``), or ``None`` while it is not finished.

    :raises ValueError: ``config.json`` is damaged (the message names it)
    """
    out = os.path.abspath(out_dir)
    path = os.path.join(out, CONFIG_FILE)
    try:
        record = read_json_record(path, required=("env", "eval_mean_return", "eval_std_return", "eval_episodes"))
    except FileNotFoundError:
        return None
    except DamagedRecord as error:
        raise DamagedRecord(f"{error} Remove it to train the teacher again.") from None
    result = Score(record["eval_mean_return"], record["eval_std_return"], record["eval_episodes"])
    return TeacherResult(os.path.join(out, f"{envs.env_slug(record['env'])}.zip"), result, record)


def teacher_config(checkpoint: Checkpoint) -> TeacherConfig:
    """The config a teacher checkpoint's training was started with.

    :raises CheckpointError: the checkpoint is not a teacher's (a distillation run's, say)
    """
    manifest = checkpoint.manifest
    if manifest.get("algorithm") != "PPO" or TEACHER not in manifest.get("files", {}) or "config" not in manifest:
        raise CheckpointError(
            f"{checkpoint.folder} is not a checkpoint of train-teacher (it holds no {TEACHER} and teacher settings); "
            "a distillation run resumes with sb3-distill distill --resume."
        )
    return TeacherConfig.from_dict(manifest["config"])


def stored_teacher_config(out_dir: str) -> TeacherConfig:
    """The config the teacher of ``out_dir`` was trained with: its ``config.json``'s, or its latest checkpoint's.

    :raises CheckpointError: the folder holds neither a finished teacher that records its config nor a usable
        checkpoint
    """
    finished = read_teacher_result(out_dir)
    if finished is not None:
        if "config" not in finished.record:
            raise CheckpointError(
                f"{os.path.join(os.path.abspath(out_dir), CONFIG_FILE)} does not record the teacher's settings (it was "
                "written by an earlier version); nothing to compare the options with."
            )
        return TeacherConfig.from_dict(finished.record["config"])
    return teacher_config(latest_checkpoint(out_dir))


def _policy(config: TeacherConfig) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(policy, policy_kwargs, other PPO arguments)`` of ``config``."""
    suite = envs.suite_of(config.env)
    arguments = config.algorithm_arguments()  # lin_ schedules and policy_kwargs text as PPO takes them
    policy = config.policy or suite.policy
    policy_kwargs = {} if suite.name == "classic" else teacher_policy_kwargs(suite.name)
    policy_kwargs.update(arguments.pop("policy_kwargs", None) or {})
    if config.net_arch:
        policy_kwargs["net_arch"] = {"pi": list(config.net_arch), "vf": list(config.net_arch)}
    return policy, policy_kwargs, arguments


def _new_teacher(config: TeacherConfig, env: VecEnv, tensorboard_log: str, device: str) -> PPO:
    policy, policy_kwargs, arguments = _policy(config)
    try:
        return PPO(
            policy,
            env,
            seed=config.seed,
            tensorboard_log=tensorboard_log,
            policy_kwargs=policy_kwargs,
            device=device,
            **arguments,
        )
    except (AssertionError, TypeError, ValueError) as error:  # SB3 checks its arguments with assert
        raise ConfigError(f"params: PPO refused its arguments {dict(config.params)}: {error}", "params") from error


def _forget_earlier_training(out: str, verbose: int) -> None:
    """A new training in a used folder starts over: an earlier one's checkpoints would be resumed as its own,
    and its config.json would mark this teacher finished while it trains."""
    folder = os.path.join(out, CHECKPOINTS)
    if os.path.isdir(folder) and os.listdir(folder):
        shutil.rmtree(folder)
        if verbose:
            print(
                f"{out} held checkpoints of an earlier training; they were removed (use --resume {out} to continue "
                "a training instead)"
            )
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(out, CONFIG_FILE))


def _train(
    model: PPO,
    config: TeacherConfig,
    out: str,
    checkpoint: Checkpoint | None,
    callbacks: Sequence[BaseCallback],
    progress_bar: bool,
    verbose: int,
    command: str | None,
) -> TeacherResult:
    """Train ``model`` up to ``config.steps`` with checkpoints, then save, evaluate and write ``config.json``."""
    suite = envs.suite_of(config.env)
    checkpointing = Checkpointing(
        out, config.checkpoint_interval, info={"config": asdict(config)}, keep=config.keep_checkpoints, model_file=TEACHER
    )
    run_callbacks: list[BaseCallback] = [checkpointing]
    if progress_bar:
        run_callbacks.append(RunProgress(config.steps))
    run_callbacks.extend(callbacks)
    with stop_on_signals(checkpointing):
        model.learn(
            max(config.steps - model.num_timesteps, 0),
            callback=CallbackList(run_callbacks),
            tb_log_name="teacher",
            reset_num_timesteps=checkpoint is None,
        )
    if checkpointing.stop_signal is not None:
        # The partial rollout is dropped, and its steps with it: the checkpoint counts the steps its weights learned
        # from, so the resumed teacher ends at config.steps as one never stopped does.
        model.num_timesteps = checkpointing.rollout_start
        saved = checkpointing.save()
        name = signal.Signals(checkpointing.stop_signal).name
        raise RunInterrupted(
            f"{name}: stopped at {model.num_timesteps} of {config.steps} timesteps and saved {saved.folder}. "
            f"Resume with: sb3-distill train-teacher --resume {out} "
            f"(from Python: sb3_distill.experiment.resume_teacher({out!r}))",
            checkpointing.stop_signal,
        )
    if config.checkpoint_interval:  # a kill during the evaluation loses no training
        checkpointing.save()

    vec_normalize = model.get_vec_normalize_env()
    model_path = os.path.join(out, f"{envs.env_slug(config.env)}.zip")  # the RL Zoo names namespaced ids so too
    try:
        with atomic_path(model_path) as temporary:
            model.save(temporary)
        if vec_normalize is not None:
            with atomic_path(os.path.join(out, VECNORMALIZE_FILE)) as temporary:
                vec_normalize.save(temporary)
        else:  # an earlier teacher's statistics would be read as this one's
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(out, VECNORMALIZE_FILE))
    except OSError as error:
        raise CheckpointError(
            f"Could not save the teacher in {out}: {error.strerror or error}. {_last_checkpoint_text(out)}"
        ) from error
    teacher = load_teacher(model_path)
    result = score(
        teacher, evaluation_env(config.env, config.seed), config.eval_episodes, deterministic=suite.deterministic_eval
    )

    policy, policy_kwargs, _ = _policy(config)
    record = {
        "command": command,
        "env": config.env,
        "algo": "ppo",
        "steps": config.steps,
        "seed": config.seed,
        "n_envs": config.n_envs,
        "normalize": isinstance(vec_normalize, VecNormalize),
        "policy": policy,
        "policy_kwargs": {"net_arch": policy_kwargs.get("net_arch")},
        "params": dict(config.params),  # as given: schedules and policy_kwargs text stay text
        "eval_mean_return": result.mean,
        "eval_std_return": result.std,
        "eval_episodes": result.episodes,
        "timesteps": model.num_timesteps,
        "resumed": checkpoint is not None,
        "resumed_from": None if checkpoint is None else checkpoint.timesteps,
        "config": asdict(config),
    }
    write_json_atomically(os.path.join(out, CONFIG_FILE), record)  # last: it marks the teacher finished
    if verbose:
        print(f"teacher saved to {model_path}")
        print(f"teacher mean return over {result.episodes} episodes: {result.mean:.1f} +/- {result.std:.1f}")
    return TeacherResult(model_path, result, record)


def _last_checkpoint_text(out: str) -> str:
    checkpoint = last_good_checkpoint(out)
    if checkpoint is None:
        return "No checkpoint was saved before it; train the teacher again."
    return (
        f"The last good checkpoint is {checkpoint.folder} ({checkpoint.timesteps} timesteps). "
        f"Resume from it with: sb3-distill train-teacher --resume {out}"
    )
