"""``sb3-distill distill``: distil a teacher into a student and compare their returns."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
from dataclasses import asdict

from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.vec_env import VecEnv

from sb3_distill import envs, schedules
from sb3_distill.cli.evaluation import Score, score
from sb3_distill.cli.hyperparams import METHODS, PRESETS, method_params, parse_params
from sb3_distill.cli.output_dir import prepare_output_dir
from sb3_distill.common.atomic_files import atomic_path, write_json_atomically
from sb3_distill.common.distillation_algorithm import DistillationAlgorithm
from sb3_distill.common.losses import LOSSES
from sb3_distill.common.teacher import DEFAULT_Q_TEMPERATURE
from sb3_distill.common.teacher_sources import load_teacher, teacher_env_id
from sb3_distill.common.training_guard import DEFAULT_MAX_DIVERGENCE, TrainingDiverged, check_max_divergence
from sb3_distill.envs import env_slug
from sb3_distill.runs import (
    Checkpointing,
    PeriodicEvaluation,
    RunInterrupted,
    last_good_checkpoint,
    latest_checkpoint,
    resume,
    stop_on_signals,
)
from sb3_distill.runs.checkpoints import CHECKPOINTS
from sb3_distill.student_sizes import STUDENT_SIZES, policy_parameter_count, student_policy_kwargs
from sb3_distill.teachers import DEFAULT_ENV, bundled_teacher_path

DEFAULT_STEPS = 50_000
EVAL_SEED_OFFSET = 10_000  # evaluation environments never share seeds with training ones


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--teacher",
        help=f"an SB3 .zip, an RL Zoo run folder, or hf://ORG/REPO (default: the bundled {DEFAULT_ENV} teacher)",
    )
    parser.add_argument("--best", action="store_true", help="RL Zoo folder: take best_model.zip instead of the final model")
    parser.add_argument("--trust-pickle", action="store_true", help="read teacher files without the allow-list of safe types")
    parser.add_argument("--env", help="Gymnasium id (default: from the teacher's config.json, Zoo folder or Hub name)")
    parser.add_argument("--method", choices=sorted(METHODS), default="ppd")
    parser.add_argument("--student", choices=STUDENT_SIZES, default="larger", help="student size relative to the teacher")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="environment steps of distillation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="run folder (default: runs/distill/<env>-<method>-<student>-s<seed>)")
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument(
        "--lambda",
        dest="distill_lambda",
        default="1.0",
        help="distillation weight λ: a number, lin:START:END:STEPS, exp:START:END:STEPS, or ratio (QDagger)",
    )
    parser.add_argument("--kl-mode", choices=["forward", "reverse"], default="forward")
    parser.add_argument(
        "--distill-loss", choices=list(LOSSES), help="default: the KL --kl-mode names; mse for SAC, TD3, DDPG and TQC teachers"
    )
    parser.add_argument("--jsd-beta", type=float, default=0.5, help="β of the generalised Jensen-Shannon divergence")
    parser.add_argument("--temperature", type=float, default=DEFAULT_Q_TEMPERATURE, help="τ of a DQN/QR-DQN teacher")
    parser.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="give the student its own VecNormalize (default: the suite's convention, e.g. on for MuJoCo)",
    )
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help="start from a named setting: paper = the paper's appendix A.3 (batch_size 512, which assumes its 18 "
        "environments); --param values still win",
    )
    parser.add_argument("--param", nargs="*", metavar="KEY=VALUE", help="algorithm arguments, e.g. n_epochs=10")
    parser.add_argument("--eval-episodes", type=int, default=20, help="episodes of each evaluation")
    parser.add_argument(
        "--teacher-score",
        metavar="MEAN,STD",
        help="the teacher's return under this run's evaluation (seed + 10,000, --eval-episodes), if already measured; "
        "it is then not evaluated again (a negative mean needs the = form: --teacher-score=-83.0,8.8)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        help="timesteps between checkpoints (default: a tenth of --steps; 0: none but the one saved on SIGINT/SIGTERM)",
    )
    parser.add_argument("--keep-checkpoints", type=int, default=2, help="how many checkpoints to keep, newest first")
    parser.add_argument(
        "--eval-every",
        type=int,
        default=0,
        help="evaluate every N timesteps on a separate environment and keep best_model.zip (default 0: only at the end)",
    )
    parser.add_argument(
        "--eval-every-episodes", type=int, default=None, help="episodes of each periodic evaluation (default: --eval-episodes)"
    )
    parser.add_argument(
        "--max-divergence",
        type=float,
        default=DEFAULT_MAX_DIVERGENCE,
        help="stop when a minibatch's distillation term exceeds this (a KL in nats); a NaN loss always stops",
    )
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its latest usable checkpoint, with the settings it was started with",
    )


def run(args: argparse.Namespace, callback: BaseCallback | None = None) -> dict:
    """Distil (or resume), evaluate and write the run folder; ``callback`` is passed to ``learn`` too (the
    grid times training with it)."""
    resumed = args.resume is not None
    checkpoint = latest_checkpoint(args.resume) if resumed else None
    if checkpoint is not None:
        # Options added since the run was started take their defaults.
        args = argparse.Namespace(
            **{
                **vars(_defaults()),
                **checkpoint.manifest["command"],
                "resume": args.resume,
                "no_progress": args.no_progress,
                "command_line": args.command_line,
            }
        )
    _check_arguments(args)
    teacher_path = args.teacher or bundled_teacher_path()
    env_id = args.env or teacher_env_id(teacher_path)
    if env_id is None:
        raise ValueError(f"No --env given and none can be read from the teacher {teacher_path!r}; pass --env ENV_ID.")
    schedules.parse(args.distill_lambda, teacher_return=1.0)  # refuse a malformed λ before any work
    out = prepare_output_dir(args.resume or args.out or default_run_dir(env_id, args))
    env = envs.make(env_id, args.n_envs, args.seed, normalize=args.normalize)
    suite = envs.suite_of(env_id)
    eval_seed = args.seed + EVAL_SEED_OFFSET

    if checkpoint is None:
        _forget_earlier_checkpoints(out)
        student, teacher_score = _new_student(args, env, env_id, teacher_path, out)
    else:
        teacher_score = Score(**checkpoint.manifest["teacher_score"])
        student = resume(out, env, checkpoint=checkpoint)
        print(f"resuming {out} from {checkpoint.folder} ({student.num_timesteps} of {args.steps} timesteps)")
    teacher = student.teacher

    checkpointing = Checkpointing(
        out,
        _checkpoint_every(args),
        keep=args.keep_checkpoints,
        info={
            "command": {key: value for key, value in vars(args).items() if key not in ("resume", "command_line")},
            "teacher": {
                "source": teacher_path,
                "best": args.best,
                "trust_pickle": args.trust_pickle,
                "distill_lambda": args.distill_lambda,
                "teacher_return": teacher_score.mean,
            },
            "teacher_score": asdict(teacher_score),
        },
    )
    callbacks: list[BaseCallback] = [checkpointing]
    periodic = None
    if args.eval_every:
        periodic = PeriodicEvaluation(
            envs.make(env_id, 1, eval_seed + 1, normalize=False, training=False),
            out,
            args.eval_every,
            args.eval_every_episodes or args.eval_episodes,
            suite.deterministic_eval,
        )
        callbacks.append(periodic)
    if callback is not None:
        callbacks.append(callback)
    with stop_on_signals(checkpointing):
        try:
            student.learn(
                max(args.steps - student.num_timesteps, 0),
                callback=CallbackList(callbacks),
                progress_bar=not args.no_progress,
                tb_log_name=args.method,
                reset_num_timesteps=checkpoint is None,
            )
        except TrainingDiverged as error:
            raise TrainingDiverged(f"{error} {_last_checkpoint(out)}") from error
    if checkpointing.stop_signal is not None:
        saved = checkpointing.save()
        name = signal.Signals(checkpointing.stop_signal).name
        raise RunInterrupted(
            f"{name}: stopped at {student.num_timesteps} of {args.steps} timesteps and saved {saved.folder}. "
            f"Resume with: sb3-distill distill --resume {out}",
            checkpointing.stop_signal,
        )

    if periodic is not None and (not periodic.rows or periodic.rows[-1]["timesteps"] < student.num_timesteps):
        periodic.evaluate()  # the learning curve ends where training ended
    with atomic_path(os.path.join(out, "student.zip")) as temporary:
        student.save(temporary)
    vec_normalize = student.get_vec_normalize_env()
    if vec_normalize is not None:
        with atomic_path(os.path.join(out, "vecnormalize.pkl")) as temporary:
            vec_normalize.save(temporary)

    evaluation_env = envs.frozen_copy(
        envs.make(env_id, 1, eval_seed, normalize=False, training=False), vec_normalize or student.get_env()
    )
    student_score = score(student, evaluation_env, args.eval_episodes, suite.deterministic_eval)
    teacher_params = policy_parameter_count(teacher.policy)
    student_params = policy_parameter_count(student.policy)
    print(_table(args.method, args.student, teacher_score, student_score, teacher_params, student_params))

    results = {
        "command": args.command_line,
        "env": env_id,
        "method": args.method,
        "student": args.student,
        "steps": args.steps,
        "timesteps": student.num_timesteps,
        "seed": args.seed,
        "teacher": teacher.source,
        "teacher_mean_return": teacher_score.mean,
        "teacher_std_return": teacher_score.std,
        "student_mean_return": student_score.mean,
        "student_std_return": student_score.std,
        "eval_episodes": args.eval_episodes,
        "eval_deterministic": suite.deterministic_eval,
        "teacher_policy_parameters": teacher_params,
        "student_policy_parameters": student_params,
        "student_net_arch": student.policy_kwargs.get("net_arch"),
        "preset": args.preset,
        "params": _params(args),
        "distill_lambda": repr(student.distill_lambda),
        "kl_mode": student.kl_mode,
        "distill_loss": student.distill_loss,
        "resumed": resumed,
        "periodic_evaluation_seconds": periodic.seconds if periodic is not None else 0.0,
    }
    write_json_atomically(os.path.join(out, "results.json"), results)
    print(f"student saved to {os.path.join(out, 'student.zip')}; TensorBoard logs in {os.path.join(out, 'tb')}")
    return results


def _new_student(
    args: argparse.Namespace, env: VecEnv, env_id: str, teacher_path: str, out: str
) -> tuple[DistillationAlgorithm, Score]:
    """A fresh student with its teacher set, and the teacher's score (evaluated first: ``ratio`` λ needs it)."""
    suite = envs.suite_of(env_id)
    teacher = load_teacher(teacher_path, env=env, best=args.best, trust_pickle=args.trust_pickle, temperature=args.temperature)
    if args.teacher_score is not None:
        mean, std = _parse_score(args.teacher_score)
        teacher_score = Score(mean, std, args.eval_episodes)
    else:
        evaluation_env = envs.make(env_id, 1, args.seed + EVAL_SEED_OFFSET, normalize=False, training=False)
        teacher_score = score(teacher, evaluation_env, args.eval_episodes, suite.deterministic_eval)
    print(f"teacher mean return over {teacher_score.episodes} episodes: {teacher_score.mean:.1f} +/- {teacher_score.std:.1f}")
    student = METHODS[args.method](
        suite.policy,
        env,
        seed=args.seed,
        tensorboard_log=os.path.join(out, "tb"),
        policy_kwargs=student_policy_kwargs(teacher.policy, args.student),
        preset=args.preset,
        **_params(args),
    )
    student.set_teacher(
        teacher,
        distill_lambda=schedules.parse(args.distill_lambda, teacher_return=teacher_score.mean),
        kl_mode=args.kl_mode,
        distill_loss=args.distill_loss,
        jsd_beta=args.jsd_beta,
        max_divergence=args.max_divergence,
    )
    return student, teacher_score


def _forget_earlier_checkpoints(out: str) -> None:
    """A new run in a used folder starts over: an earlier run's checkpoints would be taken for its own."""
    folder = os.path.join(out, CHECKPOINTS)
    if os.path.isdir(folder) and os.listdir(folder):
        shutil.rmtree(folder)
        print(f"{out} held checkpoints of an earlier run; they were removed (use --resume {out} to continue a run instead)")


def default_run_dir(env_id: str, args: argparse.Namespace) -> str:
    return os.path.join("runs", "distill", f"{env_slug(env_id)}-{args.method}-{args.student}-s{args.seed}")


def _parse_score(text: str) -> tuple[float, float]:
    try:
        mean, std = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"--teacher-score expects MEAN,STD such as 500.0,0.0, got {text!r}.") from None
    if not (math.isfinite(mean) and math.isfinite(std) and std >= 0):
        raise ValueError(f"--teacher-score expects a finite mean and a std >= 0, got {text!r}.")
    return mean, std


def _check_arguments(args: argparse.Namespace) -> None:
    for name in ("steps", "n_envs", "eval_episodes", "keep_checkpoints"):
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}.")
    for name in ("checkpoint_every", "eval_every", "eval_every_episodes"):
        if getattr(args, name) is not None and getattr(args, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be 0 (off) or positive, got {getattr(args, name)}.")
    check_max_divergence(args.max_divergence)
    if args.teacher_score is not None:
        _parse_score(args.teacher_score)


def _params(args: argparse.Namespace) -> dict:
    return {**method_params(args.method, args.preset), **parse_params(args.param)}


def _checkpoint_every(args: argparse.Namespace) -> int:
    return max(args.steps // 10, 1) if args.checkpoint_every is None else args.checkpoint_every


def _defaults() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args([])


def _last_checkpoint(out: str) -> str:
    checkpoint = last_good_checkpoint(out)
    if checkpoint is None:
        return "No checkpoint was saved before it; start the run again."
    return (
        f"The last good checkpoint is {checkpoint.folder} ({checkpoint.timesteps} timesteps); it was not overwritten. "
        f"Resume from it with: sb3-distill distill --resume {out}"
    )


def _table(method: str, size: str, teacher: Score, student: Score, teacher_params: int, student_params: int) -> str:
    fraction = student.mean / teacher.mean if teacher.mean else float("nan")
    rows = [
        ("agent", "policy params", "mean return", "std", "episodes"),
        ("teacher", f"{teacher_params:,}", f"{teacher.mean:.1f}", f"{teacher.std:.1f}", str(teacher.episodes)),
        (
            f"student ({method}, {size})",
            f"{student_params:,}",
            f"{student.mean:.1f}",
            f"{student.std:.1f}",
            str(student.episodes),
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"student / teacher: {fraction:.2f}x return, {student_params / teacher_params:.2f}x parameters")
    return "\n".join(lines)
