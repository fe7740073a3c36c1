"""``sb3-distill train-teacher``: train a PPO teacher and save it where ``distill`` can find it."""

from __future__ import annotations

import argparse

from sb3_distill.cli.hyperparams import parse_net_arch, parse_params
from sb3_distill.experiment import TeacherConfig, train_teacher, with_zoo_hyperparams


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, help="Gymnasium environment id, e.g. CartPole-v1")
    parser.add_argument(
        "--steps", type=int, default=None, help="environment steps of training (required unless --hyperparams gives them)"
    )
    parser.add_argument("--out", required=True, help="folder for the teacher (<ENV>.zip, vecnormalize.pkl, tb/)")
    parser.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="train behind VecNormalize (default: the suite's convention, e.g. on for MuJoCo; see docs/guide/environments.md)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of training and its environments")
    parser.add_argument("--n-envs", type=int, default=8, help="parallel environments")
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
    parser.add_argument("--eval-episodes", type=int, default=20, help="episodes of each evaluation")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--device", default="auto", help="torch device of training, e.g. cpu, cuda")
    parser.add_argument("--tensorboard-log", metavar="DIR", help="TensorBoard folder (default: tb/ in --out)")


def run(args: argparse.Namespace) -> dict:
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
    )
    if args.hyperparams is not None:
        given = {"params" if name == "param" else name for name in given_options(getattr(args, "argv", []))}
        arguments = with_zoo_hyperparams(args.hyperparams, TeacherConfig, arguments, given)
    if arguments["steps"] is None:
        raise ValueError("--steps is required: give --steps N, or a --hyperparams file whose entry has n_timesteps.")
    return train_teacher(
        TeacherConfig(**arguments),
        args.out,
        progress_bar=not args.no_progress,
        command=args.command_line,
        device=args.device,
        tensorboard_log=args.tensorboard_log,
    ).record


def given_options(argv: list[str]) -> set[str]:
    """The options ``argv`` (``train-teacher ...``) gives explicitly, by destination."""
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    for action in parser._actions:
        action.required = False  # only which options appear matters here
    unset = object()
    namespace = argparse.Namespace(**{action.dest: unset for action in parser._actions})
    given = parser.parse_args(argv[1:], namespace=namespace)
    return {name for name, value in vars(given).items() if value is not unset}
