"""A distillation run from a config: teacher, environments, student, checkpoints, evaluation and its folder.

A run folder holds::

    student.zip, vecnormalize.pkl   the final student (a plain SB3 zip) and its statistics
    results.json                    the config, the teacher's and the student's scores, parameter counts
    checkpoints/                    the latest checkpoints, whose manifests store the config (see sb3_distill.runs)
    evaluations.csv, best_model.*   with ``eval_every``: the learning curve and the best student
    tb/                             TensorBoard logs

With ``zoo_log_folder`` the run folder is ``<zoo_log_folder>/<algo>/<Env>_<id>/`` (``<algo>``: ``ppo``, or
``ppo_lstm`` for a recurrent student), and a finished run also holds the RL Zoo's ``<Env>.zip`` and ``<Env>/``
(``config.yml``, ``args.yml``, ``vecnormalize.pkl``), so that
``python -m rl_zoo3.enjoy --algo <algo> --env <Env> -f <zoo_log_folder> --exp-id <id>`` runs the student
(see :mod:`sb3_distill.experiment.zoo_layout`).

:func:`distill` starts a run and :func:`resume` continues one from its latest usable checkpoint, with the
settings it was started with. A SIGINT or SIGTERM during training saves a checkpoint and raises
:class:`~sb3_distill.runs.RunInterrupted`; a run killed outright loses only the steps since its last checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.vec_env import VecEnv, unwrap_vec_normalize
from tqdm import tqdm

from sb3_distill import envs, schedules
from sb3_distill.common.atomic_files import DamagedRecord, atomic_path, read_json_record, write_json_atomically
from sb3_distill.common.distillation_algorithm import DistillationAlgorithm
from sb3_distill.common.teacher_sources import HUB_PREFIX, load_teacher, teacher_env_id
from sb3_distill.common.training_guard import TrainingDiverged
from sb3_distill.evaluation import Score, evaluation_env, score
from sb3_distill.experiment.configs import ConfigError, DistillConfig
from sb3_distill.experiment.methods import METHODS
from sb3_distill.experiment.run_folder import RunFolder
from sb3_distill.experiment.zoo_layout import (
    ZOO_KEY,
    ZooLayout,
    check_zoo_env,
    new_zoo_run_dir,
    write_zoo_files,
    zoo_algo,
    zoo_args,
    zoo_hyperparams,
)
from sb3_distill.runs import (
    Checkpointing,
    PeriodicEvaluation,
    RunInterrupted,
    last_good_checkpoint,
    latest_checkpoint,
    stop_on_signals,
)
from sb3_distill.runs import resume as resume_student
from sb3_distill.runs.checkpoints import CHECKPOINTS, Checkpoint, CheckpointError
from sb3_distill.student_sizes import policy_parameter_count, student_policy_kwargs
from sb3_distill.teachers import bundled_teacher_path

STUDENT_FILE = "student.zip"
VECNORMALIZE_FILE = "vecnormalize.pkl"
RESULTS_FILE = "results.json"


@dataclass(frozen=True)
class RunResult:
    """What a finished run wrote, as read from its folder.

    :param run_dir: the run folder (absolute)
    :param config: the settings it ran with (``env`` filled in when it was read from the teacher)
    :param teacher_score: the teacher's return under the run's evaluation
    :param student_score: the final student's return under the same evaluation
    :param timesteps: environment steps trained
    :param resumed: whether this process continued the run from a checkpoint
    :param record: the contents of ``results.json``
    """

    run_dir: str
    config: DistillConfig
    teacher_score: Score
    student_score: Score
    timesteps: int
    resumed: bool
    record: Mapping[str, Any]

    @property
    def student_path(self) -> str:
        return os.path.join(self.run_dir, STUDENT_FILE)


def distill(
    config: DistillConfig,
    out_dir: str | None = None,
    callbacks: Sequence[BaseCallback] = (),
    progress_bar: bool = False,
    verbose: int = 1,
    command: str | None = None,
    device: str = "auto",
    tensorboard_log: str | None = None,
    zoo_log_folder: str | None = None,
) -> RunResult:
    """Run ``config`` into ``out_dir``: distil, checkpoint, evaluate, and write the run folder.

    :param config: the run's settings
    :param out_dir: the run folder; ``None``: ``runs/distill/<env>-<method>-<student>-s<seed>``. Checkpoints an
        earlier run left there are removed (continue a run with :func:`resume` instead)
    :param callbacks: SB3 callbacks passed to ``learn`` with the run's own
    :param progress_bar: show SB3's progress bar
    :param verbose: 0: silent; 1: the teacher's score and where things are saved
    :param command: the command line that started the run, recorded in ``results.json``
    :param device: the torch device of the student and the teacher (``auto``: CUDA when available)
    :param tensorboard_log: the TensorBoard folder; ``None``: ``tb/`` in the run folder
    :param zoo_log_folder: write the run in the RL Zoo's layout, to ``<zoo_log_folder>/<algo>/<Env>_<id>/`` with the
        Zoo's next free ``<id>``, and add the Zoo's files when it finishes (also when it finishes after
        :func:`resume`). Exclusive with ``out_dir``, which would name the run folder a second time
    :raises RunInterrupted: a SIGINT or SIGTERM stopped training; a checkpoint was saved
    :raises TrainingDiverged: an update went non-finite; the last good checkpoint is named
    """
    if zoo_log_folder is not None and out_dir is not None:
        raise ValueError(
            f"--log-folder {zoo_log_folder} and --out {out_dir} both name the run folder: give --log-folder for the "
            "RL Zoo's layout (LOG_FOLDER/ppo/<Env>_<id>), or --out for a folder of your own, not both."
        )
    teacher_path = _teacher_path(config.teacher)
    env_id = config.env or teacher_env_id(teacher_path)
    if env_id is None:
        raise ValueError(f"No env given and none can be read from the teacher {teacher_path!r}; pass env=ENV_ID (--env).")
    # stored resolved, so that the run resumes from any working directory
    config = replace(config, env=env_id, teacher=None if config.teacher is None else teacher_path)
    zoo = None
    if zoo_log_folder is not None:
        check_zoo_env(env_id)
        if config.student_observation is not None:
            raise ConfigError(
                "--log-folder: the RL Zoo's layout names no wrapper that selects the student's entries, so "
                "rl_zoo3.enjoy would run the student on other observations; give --out instead.",
                "student_observation",
            )
        if config.frame_stack > 1 and envs.suite_of(env_id).name == "atari":
            raise ConfigError(
                "--log-folder: the student would stack frames on top of the Atari suite's 4, and the RL Zoo's "
                "config names one frame stack only, so rl_zoo3.enjoy would run the student on other observations; "
                "give --out instead.",
                "frame_stack",
            )
        out_dir = new_zoo_run_dir(zoo_log_folder, env_id, zoo_algo(config.recurrent))
        zoo = ZooLayout.of_run(out_dir, env_id)
    folder = RunFolder(out_dir or default_run_dir(config))
    if zoo is not None:
        folder.created = True  # new_zoo_run_dir made it for this run: a refused run removes it
    try:  # everything that can refuse the run, before anything of an earlier run in the folder is touched
        tensorboard = tensorboard_log or os.path.join(folder.path, "tb")
        student, teacher_score = _new_student(config, teacher_path, tensorboard, device, verbose)
    except BaseException:
        folder.discard()  # a folder made for a refused run is not left behind
        raise
    with folder:
        _forget_earlier_run(folder.path, verbose)
        out = folder.path
        if zoo is not None and verbose:
            print(f"run folder (RL Zoo layout): {out}")
        return _train(student, config, out, teacher_path, teacher_score, None, callbacks, progress_bar, verbose, command, zoo)


def training_env(config: DistillConfig) -> VecEnv:
    """The student's training environments: the suite's, with the student's view (its entries of the
    observation, beside the teacher's full one) under its ``VecNormalize`` and its frame stacking on top."""
    assert config.env is not None
    return envs.make(
        config.env,
        config.n_envs,
        config.seed,
        normalize=config.normalize,
        student_observation=config.student_observation,
        frame_stack=config.frame_stack,
    )


def deployed_env(config: DistillConfig, training: VecEnv, offset: int = 0) -> VecEnv:
    """Where the student is evaluated: its own view only (no privileged input), its training statistics frozen,
    its frame stacking."""
    assert config.env is not None
    raw = evaluation_env(config.env, config.seed, offset, student_observation=config.student_observation)
    return envs.with_frame_stack(envs.frozen_copy(raw, unwrap_vec_normalize(training) or training), config.frame_stack)


def student_policy(config: DistillConfig, teacher_policy: BasePolicy) -> tuple[str, dict[str, Any]]:
    """The student's SB3 policy (the suite's, its LSTM form for a recurrent student) and its ``policy_kwargs``: the
    size preset's network for ``teacher_policy``, with the user's ``policy_kwargs`` on top."""
    assert config.env is not None
    policy = envs.suite_of(config.env).policy
    user_kwargs = config.algorithm_arguments().get("policy_kwargs") or {}
    policy_kwargs = {**student_policy_kwargs(teacher_policy, config.student), **user_kwargs}
    return (policy.replace("Policy", "LstmPolicy") if config.recurrent else policy), policy_kwargs


def _new_student(
    config: DistillConfig, teacher_path: str, tensorboard_log: str, device: str, verbose: int
) -> tuple[DistillationAlgorithm, Score]:
    """The student with its teacher set, and the teacher's score (measured unless the config gives it)."""
    env_id = config.env
    assert env_id is not None
    env = training_env(config)
    suite = envs.suite_of(env_id)
    method = METHODS[config.method]
    algorithm = method.student_algorithm(config.recurrent)
    teacher = load_teacher(
        teacher_path,
        best=config.best,
        trust_pickle=config.trust_pickle,
        temperature=config.temperature,
        frame_stack=config.teacher_frame_stack,
    )
    arguments: dict[str, Any] = config.algorithm_arguments()
    arguments.pop("policy_kwargs", None)
    if not config.recurrent:  # the recurrent students take no presets (the config refuses one)
        arguments["preset"] = config.preset
    policy, policy_kwargs = student_policy(config, teacher.policy)
    try:
        student = algorithm(
            policy,
            env,
            seed=config.seed,
            tensorboard_log=tensorboard_log,
            device=device,
            policy_kwargs=policy_kwargs,
            **arguments,
        )
    except (AssertionError, TypeError, ValueError) as error:  # SB3 checks its arguments with assert
        refusal = f"params: {algorithm.__name__} refused its arguments {config.params}: {error}"
        raise ConfigError(refusal, "params") from error
    lambda_text = str(config.distill_lambda)
    # "ratio" (QDagger) is the one λ that needs the teacher's return
    needs_teacher_return = lambda_text == "ratio" and config.teacher_score is None
    student.set_teacher(  # the one place the teacher's spaces are checked against the student's
        teacher,
        distill_lambda=0.0 if needs_teacher_return else _lambda(lambda_text, config.teacher_score),
        kl_mode=config.kl_mode,
        distill_loss=config.distill_loss,
        jsd_beta=config.jsd_beta,
        max_divergence=config.max_divergence,
    )
    if config.teacher_score is not None:
        teacher_score = Score(*config.teacher_score, config.eval_episodes)
    else:
        with _random_state_kept():  # the student's training draws as if the teacher had never been evaluated
            teacher_score = score(
                student.teacher, evaluation_env(env_id, config.seed), config.eval_episodes, suite.deterministic_eval
            )
    if needs_teacher_return:
        student.set_distill_lambda(schedules.parse(lambda_text, teacher_return=teacher_score.mean))
    if verbose:
        print(
            f"teacher mean return over {teacher_score.episodes} episodes: {teacher_score.mean:.1f} +/- {teacher_score.std:.1f}"
        )
    return student, teacher_score


def _teacher_path(teacher: str | None) -> str:
    """The teacher's source as a run stores it: a local path made absolute; ``None``: the bundled teacher."""
    if teacher is None:
        return bundled_teacher_path()
    if teacher.startswith(HUB_PREFIX):
        return teacher
    return os.path.abspath(teacher)


def resume(
    run_dir: str,
    callbacks: Sequence[BaseCallback] = (),
    progress_bar: bool = False,
    verbose: int = 1,
    command: str | None = None,
    device: str = "auto",
    tensorboard_log: str | None = None,
    trust_pickle: bool = False,
) -> RunResult:
    """Continue the run in ``run_dir`` from its latest usable checkpoint, with the settings it was started with.

    Restored: the student's weights, optimizer and statistics, the random states, λ, the learning curve and
    the teacher (loaded again from the source the manifest names). Older run folders, whose manifests stored
    the command line's options instead of a config, resume too.

    :param run_dir: a folder :func:`distill` wrote
    :param callbacks: SB3 callbacks passed to ``learn`` with the run's own
    :param progress_bar: show SB3's progress bar
    :param verbose: 0: silent; 1: what is resumed and where things are saved
    :param command: the command line that resumed the run, recorded in ``results.json``
    :param device: the torch device of the student and the teacher (``auto``: CUDA when available)
    :param tensorboard_log: the TensorBoard folder; ``None``: the run's own
    :param trust_pickle: read the checkpoint's student, its statistics and the teacher without the allow-list
        of safe types (a run folder may come from someone else, so its manifest cannot grant this)
    :raises CheckpointError: the folder holds no usable checkpoint
    """
    if not os.path.isdir(run_dir):
        raise FileNotFoundError(f"No run folder {os.path.abspath(run_dir)!r} to resume; start the run without --resume.")
    with RunFolder(run_dir) as folder:
        out = folder.path
        finished = read_result(out)
        if finished is not None:
            if verbose:
                print(f"{out} finished already ({finished.timesteps} of {finished.config.steps} timesteps); nothing changed")
            return finished
        checkpoint = latest_checkpoint(out)
        config = run_config(checkpoint)
        teacher_settings = checkpoint.manifest.get("teacher") or {}
        teacher_path = teacher_settings.get("source") or _teacher_path(config.teacher)
        env_id = config.env or teacher_env_id(teacher_path)
        if env_id is None:
            raise ValueError(
                f"{checkpoint.folder} names no environment and none can be read from the teacher {teacher_path!r}."
            )
        config = replace(config, env=env_id)
        env = training_env(config)
        teacher_score = Score(**checkpoint.manifest["teacher_score"])
        student = resume_student(out, env, device=device, checkpoint=checkpoint, trust_pickle=trust_pickle)
        if tensorboard_log is not None:
            student.tensorboard_log = tensorboard_log
        if verbose:
            print(f"resuming {out} from {checkpoint.folder} ({student.num_timesteps} of {config.steps} timesteps)")
        zoo = ZooLayout.from_record(checkpoint.manifest, out)  # a run started in the Zoo's layout ends in it
        return _train(
            student, config, out, teacher_path, teacher_score, checkpoint, callbacks, progress_bar, verbose, command, zoo
        )


#: What a RunResult is read from in results.json.
_RESULT_KEYS = (
    "teacher_mean_return",
    "teacher_std_return",
    "student_mean_return",
    "student_std_return",
    "eval_episodes",
    "timesteps",
    "resumed",
)


def read_result(run_dir: str) -> RunResult | None:
    """The result of the finished run in ``run_dir`` (its ``results.json``), or ``None`` while it is not finished.

    :raises ValueError: ``results.json`` is damaged (the message names it)
    """
    path = os.path.join(os.path.abspath(run_dir), RESULTS_FILE)
    try:
        record = read_json_record(path, required=_RESULT_KEYS)
    except FileNotFoundError:
        return None
    except DamagedRecord as error:
        raise DamagedRecord(f"{error} Remove it to run the run again.") from None
    try:
        if "config" in record:
            config = DistillConfig.from_dict(record["config"])
        else:  # written before results held the config
            config = run_config(latest_checkpoint(run_dir))
        teacher = Score(record["teacher_mean_return"], record["teacher_std_return"], record["eval_episodes"])
        student = Score(record["student_mean_return"], record["student_std_return"], record["eval_episodes"])
        return RunResult(os.path.abspath(run_dir), config, teacher, student, record["timesteps"], record["resumed"], record)
    except (OSError, ValueError, TypeError) as error:
        raise ValueError(f"{path} is damaged ({type(error).__name__}: {error}); remove it to run the run again.") from None


def stored_config(run_dir: str) -> DistillConfig:
    """The config the run in ``run_dir`` was started with: its finished result's, or its latest checkpoint's.

    :raises CheckpointError: the run is neither finished nor has a usable checkpoint
    """
    finished = read_result(run_dir)
    return finished.config if finished is not None else run_config(latest_checkpoint(run_dir))


def run_config(checkpoint: Checkpoint) -> DistillConfig:
    """The config a checkpoint's run was started with (older manifests stored the command's options)."""
    manifest = checkpoint.manifest
    if "config" in manifest:
        return DistillConfig.from_dict(manifest["config"])
    if "command" in manifest:
        return DistillConfig.from_dict(manifest["command"])
    raise ValueError(
        f"{checkpoint.folder} records no settings of the run (no 'config' in its manifest); it cannot be resumed."
    )


def default_run_dir(config: DistillConfig) -> str:
    """``runs/distill/<env>-<method>-<student>-s<seed>`` (relative to the working directory)."""
    env_id = config.env or "unknown-env"
    return os.path.join("runs", "distill", f"{envs.env_slug(env_id)}-{config.method}-{config.student}-s{config.seed}")


def _lambda(text: str, teacher_score: tuple[float, float] | None) -> schedules.DistillLambda:
    return schedules.parse(text, teacher_return=teacher_score[0] if teacher_score is not None else None)


@contextmanager
def _random_state_kept() -> Iterator[None]:
    """Restore Python's, NumPy's and torch's random states on leaving."""
    states = random.getstate(), np.random.get_state(), th.get_rng_state()
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        th.set_rng_state(states[2])


def _train(
    student: DistillationAlgorithm,
    config: DistillConfig,
    out: str,
    teacher_path: str,
    teacher_score: Score,
    checkpoint: Checkpoint | None,
    callbacks: Sequence[BaseCallback],
    progress_bar: bool,
    verbose: int,
    command: str | None,
    zoo: ZooLayout | None = None,
) -> RunResult:
    """Train ``student`` up to ``config.steps`` with checkpoints and evaluations, then write the run's results
    (and, with ``zoo``, the RL Zoo's files before ``results.json``, which marks the run finished)."""
    env_id = config.env
    assert env_id is not None
    suite = envs.suite_of(env_id)
    checkpointing = Checkpointing(
        out,
        config.checkpoint_interval,
        keep=config.keep_checkpoints,
        info={
            "config": asdict(config),
            "teacher": {
                "source": teacher_path,
                "best": config.best,
                "trust_pickle": config.trust_pickle,
                "distill_lambda": str(config.distill_lambda),
                "teacher_return": teacher_score.mean,
            },
            "teacher_score": asdict(teacher_score),
            **({ZOO_KEY: zoo.to_dict()} if zoo is not None else {}),
        },
    )
    run_callbacks: list[BaseCallback] = [checkpointing]
    periodic = None
    if config.eval_every:
        periodic = PeriodicEvaluation(
            evaluation_env(env_id, config.seed, offset=1, student_observation=config.student_observation),
            out,
            config.eval_every,
            config.eval_every_episodes or config.eval_episodes,
            suite.deterministic_eval,
            frame_stack=config.frame_stack,
        )
        run_callbacks.append(periodic)
    if progress_bar:
        run_callbacks.append(RunProgress(config.steps))
    run_callbacks.extend(callbacks)
    with stop_on_signals(checkpointing):
        try:
            student.learn(
                max(config.steps - student.num_timesteps, 0),
                callback=CallbackList(run_callbacks),
                tb_log_name=config.method,
                reset_num_timesteps=checkpoint is None,
            )
        except TrainingDiverged as error:
            raise TrainingDiverged(f"{error} {_last_checkpoint_text(out)}") from error
    if checkpointing.stop_signal is not None:
        # The partial rollout is dropped, and its steps with it: the checkpoint counts the steps its weights learned
        # from, so the resumed run ends at the steps an uninterrupted one does.
        student.num_timesteps = checkpointing.rollout_start
        saved = checkpointing.save()
        name = signal.Signals(checkpointing.stop_signal).name
        raise RunInterrupted(
            f"{name}: stopped at {student.num_timesteps} of {config.steps} timesteps and saved {saved.folder}. "
            f"Resume with: sb3-distill distill --resume {out} (from Python: sb3_distill.experiment.resume({out!r}))",
            checkpointing.stop_signal,
        )

    if periodic is not None and (not periodic.rows or periodic.rows[-1]["timesteps"] < student.num_timesteps):
        periodic.evaluate()  # the learning curve ends where training ended
    vec_normalize = student.get_vec_normalize_env()
    try:
        with atomic_path(os.path.join(out, STUDENT_FILE)) as temporary:
            student.save(temporary)
        if vec_normalize is not None:
            with atomic_path(os.path.join(out, VECNORMALIZE_FILE)) as temporary:
                vec_normalize.save(temporary)
        if zoo is not None:
            write_zoo_files(
                out,
                zoo,
                os.path.join(out, STUDENT_FILE),
                None if vec_normalize is None else os.path.join(out, VECNORMALIZE_FILE),
                zoo_hyperparams(
                    env_id,
                    config.n_envs,
                    config.steps,
                    {**config.algorithm_params(), "policy_kwargs": student.policy_kwargs},
                    vec_normalize,
                    config.frame_stack,
                    config.recurrent,
                ),
                zoo_args(env_id, zoo, config.seed, config.steps, config.n_envs, config.method),
                command,
            )
    except OSError as error:
        raise CheckpointError(
            f"Could not save the final student in {out}: {error.strerror or error}. {_last_checkpoint_text(out)}"
        ) from error

    trained_in = student.get_env()
    assert trained_in is not None
    student_score = score(student, deployed_env(config, trained_in), config.eval_episodes, suite.deterministic_eval)
    teacher = student.teacher
    assert teacher is not None
    record = {
        "command": command,
        "config": asdict(config),
        "env": env_id,
        "method": config.method,
        "student": config.student,
        "steps": config.steps,
        "timesteps": student.num_timesteps,
        "seed": config.seed,
        "teacher": teacher.source,
        "teacher_mean_return": teacher_score.mean,
        "teacher_std_return": teacher_score.std,
        "student_mean_return": student_score.mean,
        "student_std_return": student_score.std,
        "eval_episodes": config.eval_episodes,
        "eval_deterministic": suite.deterministic_eval,
        "teacher_policy_parameters": policy_parameter_count(teacher.policy),
        "student_policy_parameters": policy_parameter_count(student.policy),
        "student_net_arch": student.policy_kwargs.get("net_arch"),
        "preset": config.preset,
        "params": config.algorithm_params(),
        "distill_lambda": repr(student.distill_lambda),
        "kl_mode": student.kl_mode,
        "distill_loss": student.distill_loss,
        "resumed": checkpoint is not None,
        "periodic_evaluation_seconds": periodic.seconds if periodic is not None else 0.0,
        **({ZOO_KEY: zoo.to_dict()} if zoo is not None else {}),
    }
    write_json_atomically(os.path.join(out, RESULTS_FILE), record)
    if verbose:
        print(f"student saved to {os.path.join(out, STUDENT_FILE)}; TensorBoard logs in {student.tensorboard_log}")
        if zoo is not None:
            print(f"RL Zoo run folder {out}: {zoo.enjoy_command(env_id, out)}")
    return RunResult(out, config, teacher_score, student_score, student.num_timesteps, checkpoint is not None, record)


class RunProgress(BaseCallback):
    """A progress bar over the run's own steps: a resumed run starts where it stands, and the bar stops at the
    run's total although the last rollout may end past it (SB3's counts this process's steps, and overruns)."""

    def __init__(self, total: int):
        super().__init__()
        self.total = total
        self._bar: tqdm | None = None

    def _on_training_start(self) -> None:
        self._bar = tqdm(total=self.total, initial=min(self.num_timesteps, self.total), unit="steps", dynamic_ncols=True)

    def _on_step(self) -> bool:
        assert self._bar is not None
        self._bar.update(min(self.num_timesteps, self.total) - self._bar.n)
        return True

    def _on_training_end(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _forget_earlier_run(out: str, verbose: int) -> None:
    """A new run in a used folder starts over: an earlier run's checkpoints would be taken for its own, and its
    results.json would mark this run finished."""
    folder = os.path.join(out, CHECKPOINTS)
    if os.path.isdir(folder) and os.listdir(folder):
        shutil.rmtree(folder)
        if verbose:
            print(
                f"{out} held checkpoints of an earlier run; they were removed (use --resume {out} to continue a run instead)"
            )
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(out, RESULTS_FILE))


def _last_checkpoint_text(out: str) -> str:
    checkpoint = last_good_checkpoint(out)
    if checkpoint is None:
        return "No checkpoint was saved before it; start the run again."
    return (
        f"The last good checkpoint is {checkpoint.folder} ({checkpoint.timesteps} timesteps); it was not overwritten. "
        f"Resume from it with: sb3-distill distill --resume {out}"
    )
