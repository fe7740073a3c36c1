"""``sb3-distill distill``: distil a teacher into a student and compare their returns."""

from __future__ import annotations

import argparse
import json
import os

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecNormalize

from sb3_distill import PPD, StudentDistill, TeacherDistill, envs, schedules
from sb3_distill.cli.evaluation import Score, score
from sb3_distill.cli.hyperparams import DISTILL_DEFAULTS, parse_params
from sb3_distill.cli.output_dir import prepare_output_dir
from sb3_distill.common.losses import LOSSES
from sb3_distill.common.teacher import DEFAULT_Q_TEMPERATURE
from sb3_distill.common.teacher_sources import load_teacher, teacher_env_id
from sb3_distill.student_sizes import STUDENT_SIZES, policy_parameter_count, student_policy_kwargs
from sb3_distill.teachers import DEFAULT_ENV, bundled_teacher_path

METHODS = {"ppd": PPD, "student-distill": StudentDistill, "teacher-distill": TeacherDistill}
DEFAULT_STEPS = 50_000


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
        "--lambda", dest="distill_lambda", default="1.0",
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
    parser.add_argument("--param", nargs="*", metavar="KEY=VALUE", help="algorithm arguments, e.g. n_epochs=10")
    parser.add_argument("--eval-episodes", type=int, default=20)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace, callback: BaseCallback | None = None) -> dict:
    """Distil, evaluate and write the run folder; ``callback`` is passed to ``learn`` (the grid records curves with it)."""
    if args.steps <= 0:
        raise ValueError(f"--steps must be positive, got {args.steps}.")
    teacher_path = args.teacher or bundled_teacher_path()
    env_id = args.env or teacher_env_id(teacher_path)
    if env_id is None:
        raise ValueError(f"No --env given and none can be read from the teacher {teacher_path!r}; pass --env ENV_ID.")
    schedules.parse(args.distill_lambda, teacher_return=1.0)  # refuse a malformed λ before any work
    env = envs.make(env_id, args.n_envs, args.seed, normalize=args.normalize)
    teacher = load_teacher(teacher_path, env=env, best=args.best, trust_pickle=args.trust_pickle, temperature=args.temperature)
    student_kwargs = student_policy_kwargs(teacher.policy, args.student)
    params = {**DISTILL_DEFAULTS[args.method], **parse_params(args.param)}
    out = prepare_output_dir(args.out or os.path.join("runs", "distill", f"{env_id}-{args.method}-{args.student}-s{args.seed}"))

    eval_seed = args.seed + 10_000
    deterministic = envs.suite_of(env_id).deterministic_eval
    teacher_score = score(
        teacher, envs.make(env_id, 1, eval_seed, normalize=False, training=False), args.eval_episodes, deterministic
    )
    print(f"teacher mean return over {teacher_score.episodes} episodes: {teacher_score.mean:.1f} +/- {teacher_score.std:.1f}")
    distill_lambda = schedules.parse(args.distill_lambda, teacher_return=teacher_score.mean)
    student = METHODS[args.method](
        envs.suite_of(env_id).policy,
        env,
        seed=args.seed,
        tensorboard_log=os.path.join(out, "tb"),
        policy_kwargs=student_kwargs,
        **params,
    )
    student.set_teacher(
        teacher, distill_lambda=distill_lambda, kl_mode=args.kl_mode, distill_loss=args.distill_loss, jsd_beta=args.jsd_beta
    )
    student.learn(args.steps, callback=callback, progress_bar=not args.no_progress, tb_log_name=args.method)

    student.save(os.path.join(out, "student.zip"))
    if isinstance(env, VecNormalize):
        env.save(os.path.join(out, "vecnormalize.pkl"))

    evaluation_env = envs.frozen_copy(envs.make(env_id, 1, eval_seed, normalize=False, training=False), env)
    student_score = score(student, evaluation_env, args.eval_episodes, deterministic)
    teacher_params = policy_parameter_count(teacher.policy)
    student_params = policy_parameter_count(student.policy)
    print(_table(args.method, args.student, teacher_score, student_score, teacher_params, student_params))

    results = {
        "command": args.command_line,
        "env": env_id,
        "method": args.method,
        "student": args.student,
        "steps": args.steps,
        "seed": args.seed,
        "teacher": teacher.source,
        "teacher_mean_return": teacher_score.mean,
        "teacher_std_return": teacher_score.std,
        "student_mean_return": student_score.mean,
        "student_std_return": student_score.std,
        "eval_episodes": args.eval_episodes,
        "eval_deterministic": deterministic,
        "teacher_policy_parameters": teacher_params,
        "student_policy_parameters": student_params,
        "student_net_arch": student_kwargs["net_arch"],
        "params": params,
        "distill_lambda": repr(distill_lambda),
        "kl_mode": student.kl_mode,
        "distill_loss": student.distill_loss,
    }
    with open(os.path.join(out, "results.json"), "w") as file:
        json.dump(results, file, indent=2)
    print(f"student saved to {os.path.join(out, 'student.zip')}; TensorBoard logs in {os.path.join(out, 'tb')}")
    return results


def _table(method: str, size: str, teacher: Score, student: Score, teacher_params: int, student_params: int) -> str:
    fraction = student.mean / teacher.mean if teacher.mean else float("nan")
    rows = [
        ("agent", "policy params", "mean return", "std", "episodes"),
        ("teacher", f"{teacher_params:,}", f"{teacher.mean:.1f}", f"{teacher.std:.1f}", str(teacher.episodes)),
        (f"student ({method}, {size})", f"{student_params:,}", f"{student.mean:.1f}", f"{student.std:.1f}", str(student.episodes)),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"student / teacher: {fraction:.2f}x return, {student_params / teacher_params:.2f}x parameters")
    return "\n".join(lines)
