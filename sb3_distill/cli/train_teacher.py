"""``sb3-distill train-teacher``: train a PPO teacher and save it where ``distill`` can find it."""

from __future__ import annotations

import argparse

from sb3_distill.cli import resume_options
from sb3_distill.cli.hyperparams import parse_net_arch, parse_params
from sb3_distill.experiment import (
    TeacherConfig,
    resume_teacher,
    stored_teacher_config,
    train_teacher,
    with_zoo_hyperparams,
)

DEFAULTS = TeacherConfig(env="CartPole-v1", steps=1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", help="Gymnasium environment id, e.g. CartPole-v1 (required unless --resume)")
    parser.add_argument(
        "--steps", type=int, default=None, help="environment steps of training (required unless --hyperparams gives them)"
    )
    parser.add_argument(
        "--out",
        help="folder for the teacher (<ENV>.zip, vecnormalize.pkl, config.json, checkpoints/, tb/); required unless --resume",
    )
    parser.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train behind VecNormalize (default: the suite's convention, e.g. on for MuJoCo; see docs/guide/environments.md)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help="seed of training and its environments")
    parser.add_argument("--n-envs", type=int, default=DEFAULTS.n_envs, help="parallel environments")
    parser.add_argument("--policy", default=None, help="SB3 policy name (default: the suite's, MlpPolicy or CnnPolicy)")
    parser.add_argument(
        "--net-arch",
        help="hidden layer widths of actor and critic, e.g. 256,256 (default: the paper's network for MuJoCo, "
        "Atari, MinAtar and Procgen; SB3's 64,64 otherwise)",
    )
    parser.add_argument("--param", nargs="*", metavar="KEY=VALUE", help="PPO arguments, e.g. n_steps=64 gamma=0.98")
    parser.add_argument(
        "--hyperparams",
        metavar="FILE",
        help="an RL Zoo hyperparameter file (ppo.yml format): the env's entry gives --steps (n_timesteps), --n-envs, "
        "--normalize, --policy and PPO arguments; options given on the command line win, --param on top of its params",
    )
    parser.add_argument("--eval-episodes", type=int, default=DEFAULTS.eval_episodes, help="episodes of each evaluation")
    parser.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        help="timesteps between checkpoints (default: a tenth of --steps; 0: none but the one saved on SIGINT/SIGTERM)",
    )
    parser.add_argument(
        "--keep-checkpoints", type=int, default=DEFAULTS.keep_checkpoints, help="how many checkpoints to keep, newest first"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--device", default="auto", help="torch device of training, e.g. cpu, cuda")
    parser.add_argument("--tensorboard-log", metavar="DIR", help="TensorBoard folder (default: tb/ in --out)")
    parser.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the teacher training in DIR from its latest usable checkpoint, with the settings it was started with",
    )
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="with --resume: read the checkpoint's files without the allow-list of safe types (only folders you trust)",
    )


def run(args: argparse.Namespace) -> dict:
    if args.resume is not None:
        _refuse_changes_on_resume(args)
        return resume_teacher(
            args.resume,
            progress_bar=not args.no_progress,
            command=args.command_line,
            device=args.device,
            tensorboard_log=args.tensorboard_log,
            trust_pickle=args.trust_pickle,
        ).record
    if args.trust_pickle:
        raise ValueError("--trust-pickle applies to --resume (training a new teacher reads no model files); drop it.")
    missing = [option for option in ("--env", "--out") if getattr(args, option[2:]) is None]
    if missing:
        raise ValueError(f"the following arguments are required: {', '.join(missing)} (unless --resume DIR)")
    return train_teacher(
        config_from_args(args),
        args.out,
        progress_bar=not args.no_progress,
        command=args.command_line,
        device=args.device,
        tensorboard_log=args.tensorboard_log,
    ).record


def config_from_args(args: argparse.Namespace) -> TeacherConfig:
    """The teacher's config from the command line's options (the config checks them)."""
    net_arch = parse_net_arch(args.net_arch)
    arguments = dict(
        env=args.env,
        steps=args.steps,
        seed=args.seed,
        n_envs=args.n_envs,
        normalize=args.normalize,
        policy=args.policy,
        net_arch=tuple(net_arch) if net_arch else None,
        params=parse_params(args.param),
        eval_episodes=args.eval_episodes,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
    )
    if args.hyperparams is not None:
        given = {"params" if name == "param" else name for name in given_options(getattr(args, "argv", []))}
        arguments = with_zoo_hyperparams(args.hyperparams, TeacherConfig, arguments, given)
    if arguments["steps"] is None:
        raise ValueError("--steps is required: give --steps N, or a --hyperparams file whose entry has n_timesteps.")
    return TeacherConfig(**arguments)


def _refuse_changes_on_resume(args: argparse.Namespace) -> None:
    """--resume continues a training with its own settings: an option that would change them is an error, not
    ignored (as ``distill --resume`` does)."""
    given = given_options(getattr(args, "argv", []))
    if args.hyperparams is not None:
        given["hyperparams"] = args.hyperparams
    resume_options.refuse_changes_on_resume(
        args.resume,
        given,
        lambda: stored_teacher_config(args.resume),
        _as_setting,
        "teacher",
        "train a new teacher in another --out",
    )


def _as_setting(name: str, value: object, stored: TeacherConfig) -> tuple[str, object]:
    """A command-line option's destination and value as the config's field and value."""
    if name == "param":
        return "params", parse_params(value)  # type: ignore[arg-type]
    if name == "net_arch":
        layers = parse_net_arch(value)  # type: ignore[arg-type]
        return "net_arch", tuple(layers) if layers else None
    return name, value


def given_options(argv: list[str]) -> dict[str, object]:
    """The options ``argv`` (``train-teacher ...``) gives explicitly, by destination, with their values."""
    return resume_options.given_options(add_arguments, argv)
