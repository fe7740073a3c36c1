"""``sb3-distill distill``: distil a teacher into a student and compare their returns."""

from __future__ import annotations

import argparse
import math
import os

from sb3_distill.cli import resume_options
from sb3_distill.cli.hyperparams import parse_params
from sb3_distill.common.losses import KL_MODES, LOSSES
from sb3_distill.experiment import (
    METHODS,
    PRESETS,
    DistillConfig,
    RunResult,
    distill,
    parse_entries,
    resume,
    stored_config,
    with_zoo_hyperparams,
)
from sb3_distill.experiment.zoo_layout import stored_zoo_layout
from sb3_distill.student_sizes import STUDENT_SIZES
from sb3_distill.teachers import DEFAULT_ENV

DEFAULTS = DistillConfig()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--teacher",
        help=f"an SB3 .zip, an RL Zoo run folder, or hf://ORG/REPO (default: the bundled {DEFAULT_ENV} teacher)",
    )
    parser.add_argument("--best", action="store_true", help="RL Zoo folder: take best_model.zip instead of the final model")
    parser.add_argument("--trust-pickle", action="store_true", help="read teacher files without the allow-list of safe types")
    parser.add_argument("--env", help="Gymnasium id (default: from the teacher's config.json, Zoo folder or Hub name)")
    parser.add_argument(
        "--method", choices=sorted(METHODS), default=DEFAULTS.method, help="ppo: PPD with λ = 0, the no-teacher baseline"
    )
    parser.add_argument(
        "--student", choices=STUDENT_SIZES, default=DEFAULTS.student, help="student size relative to the teacher"
    )
    parser.add_argument("--steps", type=int, default=DEFAULTS.steps, help="environment steps of distillation")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help="seed of the student and its environments")
    parser.add_argument("--out", help="run folder (default: runs/distill/<env>-<method>-<student>-s<seed>)")
    parser.add_argument(
        "--log-folder",
        metavar="DIR",
        help="write the run in the RL Zoo's layout, DIR/ppo/<Env>_<id>/ (DIR/ppo_lstm/ for a recurrent student) with "
        "the Zoo's next free id, so that python -m rl_zoo3.enjoy --algo ppo --env ENV -f DIR --exp-id ID runs the "
        "student (not with --out)",
    )
    parser.add_argument("--n-envs", type=int, default=DEFAULTS.n_envs, help="parallel environments")
    parser.add_argument(
        "--lambda",
        dest="distill_lambda",
        default=None,
        help="distillation weight λ: a number, lin:START:END:STEPS, exp:START:END:STEPS, or ratio (QDagger) "
        "(default: 1; 0 for --method ppo)",
    )
    parser.add_argument("--kl-mode", choices=list(KL_MODES), default=DEFAULTS.kl_mode)
    parser.add_argument(
        "--distill-loss", choices=list(LOSSES), help="default: the KL --kl-mode names; mse for SAC, TD3, DDPG and TQC teachers"
    )
    parser.add_argument(
        "--jsd-beta", type=float, default=DEFAULTS.jsd_beta, help="β of the generalised Jensen-Shannon divergence"
    )
    parser.add_argument("--temperature", type=float, default=DEFAULTS.temperature, help="τ of a DQN/QR-DQN teacher")
    parser.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="give the student its own VecNormalize (default: the suite's convention, e.g. on for MuJoCo)",
    )
    parser.add_argument(
        "--student-observation",
        metavar="ENTRIES",
        help="a partially observed student: the entries of the flat observation it reads, e.g. 0,2 or 0:8 (entries 0 "
        "to 7), while the teacher reads all of it; the student is evaluated and saved on those entries alone",
    )
    parser.add_argument(
        "--frame-stack",
        type=int,
        default=DEFAULTS.frame_stack,
        metavar="N",
        help="the student reads its last N observations (VecFrameStack on the student's side; default 1)",
    )
    parser.add_argument(
        "--teacher-frame-stack",
        type=int,
        default=None,
        metavar="N",
        help="the teacher was trained on its last N observations (VecFrameStack): it is given one per state and "
        "stacks them itself (default: an RL Zoo folder's frame_stack, else 1)",
    )
    parser.add_argument(
        "--recurrent",
        action="store_true",
        default=None,
        help="an LSTM student (sb3-contrib's RecurrentPPO, saved as a RecurrentPPO zip; the contrib extra)",
    )
    parser.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help="start from a named setting: paper = the paper's appendix A.3 (batch_size 512, which assumes its 18 "
        "environments); --param values still win",
    )
    parser.add_argument("--param", nargs="*", metavar="KEY=VALUE", help="algorithm arguments, e.g. n_epochs=10")
    parser.add_argument(
        "--hyperparams",
        metavar="FILE",
        help="an RL Zoo hyperparameter file (ppo.yml format): the env's entry gives --steps (n_timesteps), --n-envs, "
        "--normalize and algorithm arguments; options given on the command line win, --param on top of its params",
    )
    parser.add_argument("--eval-episodes", type=int, default=DEFAULTS.eval_episodes, help="episodes of each evaluation")
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
    parser.add_argument(
        "--keep-checkpoints", type=int, default=DEFAULTS.keep_checkpoints, help="how many checkpoints to keep, newest first"
    )
    parser.add_argument(
        "--eval-every",
        type=int,
        default=DEFAULTS.eval_every,
        help="evaluate every N timesteps on a separate environment and keep best_model.zip (default 0: only at the end)",
    )
    parser.add_argument(
        "--eval-every-episodes", type=int, default=None, help="episodes of each periodic evaluation (default: --eval-episodes)"
    )
    parser.add_argument(
        "--max-divergence",
        type=float,
        default=DEFAULTS.max_divergence,
        help="stop when a minibatch's distillation term exceeds this (a KL in nats); a NaN loss always stops",
    )
    parser.add_argument("--device", default="auto", help="torch device of the student and the teacher, e.g. cpu, cuda")
    parser.add_argument("--tensorboard-log", metavar="DIR", help="TensorBoard folder (default: tb/ in the run folder)")
    parser.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its latest usable checkpoint, with the settings it was started with",
    )


def config_from_args(args: argparse.Namespace) -> DistillConfig:
    """The run's config from the command line's options (the config checks them)."""
    arguments = dict(
        teacher=args.teacher,
        env=args.env,
        method=args.method,
        student=args.student,
        steps=args.steps,
        seed=args.seed,
        n_envs=args.n_envs,
        distill_lambda=args.distill_lambda,
        kl_mode=args.kl_mode,
        distill_loss=args.distill_loss,
        jsd_beta=args.jsd_beta,
        temperature=args.temperature,
        normalize=args.normalize,
        student_observation=args.student_observation,
        frame_stack=args.frame_stack,
        teacher_frame_stack=args.teacher_frame_stack,
        recurrent=bool(args.recurrent),
        preset=args.preset,
        params=parse_params(args.param),
        eval_episodes=args.eval_episodes,
        teacher_score=None if args.teacher_score is None else parse_score(args.teacher_score),
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
        eval_every=args.eval_every,
        eval_every_episodes=args.eval_every_episodes,
        max_divergence=args.max_divergence,
        best=args.best,
        trust_pickle=args.trust_pickle,
    )
    if getattr(args, "hyperparams", None) is not None:
        given = {"params" if name == "param" else name for name in given_options(getattr(args, "argv", []))}
        arguments = with_zoo_hyperparams(args.hyperparams, DistillConfig, arguments, given)
    return DistillConfig(**arguments)


def run(args: argparse.Namespace) -> dict:
    progress = not args.no_progress
    if args.resume is not None:
        _refuse_changes_on_resume(args)
        result = resume(
            args.resume,
            progress_bar=progress,
            command=args.command_line,
            device=args.device,
            tensorboard_log=args.tensorboard_log,
            trust_pickle=args.trust_pickle,
        )
    else:
        result = distill(
            config_from_args(args),
            args.out,
            progress_bar=progress,
            command=args.command_line,
            device=args.device,
            tensorboard_log=args.tensorboard_log,
            zoo_log_folder=args.log_folder,
        )
    print(table(result))
    return dict(result.record)


def given_options(argv: list[str]) -> dict[str, object]:
    """The options ``argv`` (``distill ...``) gives explicitly, by destination, without the defaults."""
    return resume_options.given_options(add_arguments, argv)


def _refuse_changes_on_resume(args: argparse.Namespace) -> None:
    """--resume continues a run with its own settings: an option that would change them is an error, not ignored."""
    given = given_options(getattr(args, "argv", []))
    if args.hyperparams is not None:
        given["hyperparams"] = args.hyperparams
    conflicts = []
    if "log_folder" in given:  # the layout is chosen when a run starts: only the run's own log folder repeats it
        value = given.pop("log_folder")
        layout = stored_zoo_layout(args.resume)
        if layout is None or os.path.abspath(str(value)) != layout.log_folder:
            where = "is not in the RL Zoo's layout" if layout is None else f"is in the log folder {layout.log_folder}"
            conflicts.append(f"--log-folder {value} (the run {where})")
    resume_options.refuse_changes_on_resume(
        args.resume,
        given,
        lambda: stored_config(args.resume),
        _as_setting,
        "run",
        "start a new run in another --out",
        conflicts,
    )


def _as_setting(name: str, value: object, stored: DistillConfig) -> tuple[str, object]:
    """A command-line option's destination and value as the config's field and value."""
    if name == "param":
        return "params", parse_params(value)  # type: ignore[arg-type]
    if name == "teacher_score":
        return "teacher_score", parse_score(str(value))
    if name == "student_observation" and value is not None:
        return name, parse_entries(value)
    if name == "teacher" and value is not None and stored.teacher is not None:
        return name, value if str(value).startswith("hf://") else os.path.abspath(str(value))  # stored absolute
    return name, value


def parse_score(text: str) -> tuple[float, float]:
    """``"500.0,0.0"`` -> ``(500.0, 0.0)``."""
    try:
        mean, std = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"--teacher-score expects MEAN,STD such as 500.0,0.0, got {text!r}.") from None
    if not (math.isfinite(mean) and math.isfinite(std) and std >= 0):
        raise ValueError(f"--teacher-score expects a finite mean and a std >= 0, got {text!r}.")
    return mean, std


def table(result: RunResult) -> str:
    """The teacher's and the student's returns and parameter counts, side by side."""
    teacher, student = result.teacher_score, result.student_score
    teacher_params = result.record["teacher_policy_parameters"]
    student_params = result.record["student_policy_parameters"]
    fraction = student.mean / teacher.mean if teacher.mean else float("nan")
    rows = [
        ("agent", "policy params", "mean return", "std", "episodes"),
        ("teacher", f"{teacher_params:,}", f"{teacher.mean:.1f}", f"{teacher.std:.1f}", str(teacher.episodes)),
        (
            f"student ({result.config.method}, {result.config.student})",
            f"{student_params:,}",
            f"{student.mean:.1f}",
            f"{student.std:.1f}",
            str(student.episodes),
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"student / teacher: {fraction:.2f}x return, {student_params / teacher_params:.2f}x parameters")
    return "\n".join(lines)
