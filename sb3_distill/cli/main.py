"""The ``sb3-distill`` command."""

from __future__ import annotations

import argparse
import shlex
import sys

from sb3_distill import __version__
from sb3_distill.cli import bench, corrupt, distill, evaluate, export, info, package, report, train_teacher
from sb3_distill.runs import RunInterrupted

COMMANDS = {
    "train-teacher": (train_teacher, "train a PPO teacher"),
    "distill": (distill, "distil a teacher into a student (no arguments: the bundled CartPole teacher)"),
    "corrupt": (corrupt, "write a copy of a teacher with N(0, sigma^2) noise on every parameter"),
    "bench": (bench, "run a benchmark grid from a YAML spec, locally or on a Ray cluster"),
    "report": (report, "write report.md and PNG figures in the paper's format for a grid's output folder"),
    "export": (
        export,
        "export a trained agent to ONNX or TorchScript, with its normalisation inside, checked against predict",
    ),
    "evaluate": (evaluate, "evaluate a student or teacher under the suite's protocol, optionally recording videos"),
    "package": (package, "write a Hub-ready folder for a run: its zip, statistics, config, model card and ONNX export"),
    "info": (info, "an environment's suite, the paper's teacher network for it and the student sizes' parameter counts"),
}


class _DefaultsHelpFormatter(argparse.HelpFormatter):
    """Help that shows each option's default, unless it has none worth showing or says it already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        nothing = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        shown = "default" in text or nothing or not action.option_strings
        return text if shown else f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sb3-distill", description="Policy distillation for stable-baselines3.")
    parser.add_argument("--version", action="version", version=f"sb3-distill {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in COMMANDS.items():
        module.add_arguments(
            subparsers.add_parser(name, help=help_text, description=help_text, formatter_class=_DefaultsHelpFormatter)
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # the command alone: what it can do, not a usage error
        build_parser().print_help()
        return 0
    args = build_parser().parse_args(argv)
    args.command_line = "sb3-distill " + shlex.join(argv)
    args.argv = argv
    module, _ = COMMANDS[args.command]
    try:
        status = module.run(args)
    except RunInterrupted as stop:
        print(f"sb3-distill {args.command}: {stop}", file=sys.stderr)
        return stop.exit_code
    except (ValueError, TypeError, FileNotFoundError, RuntimeError, ImportError) as error:
        print(f"sb3-distill {args.command}: error: {_in_option_terms(error)}", file=sys.stderr)
        return 2
    # A command's run returns what it made (a record, a path), or an int: its exit status (bench: 1 when a job failed).
    return status if isinstance(status, int) and not isinstance(status, bool) else 0


#: Config settings whose command-line option is not ``--`` + the name with dashes.
OPTION_NAMES = {"distill_lambda": "--lambda", "params": "--param"}


def _in_option_terms(error: Exception) -> str:
    """The error's message, naming the command line's option where a config names its setting."""
    message = str(error)
    setting = getattr(error, "setting", None)  # ConfigError
    if setting and message.startswith(setting):
        option = OPTION_NAMES.get(setting, "--" + setting.replace("_", "-"))
        return option + message[len(setting) :]
    return message


if __name__ == "__main__":
    sys.exit(main())
