"""``--resume`` continues a run with the settings it was started with: options on the command line that
repeat them are accepted, options that would change them are refused by name (``distill`` and
``train-teacher`` alike)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from typing import Any

#: Options that may come with --resume: they choose how the run is shown or read, not what it does.
RESUME_OPTIONS = ("resume", "no_progress", "device", "tensorboard_log", "trust_pickle")


def given_options(add_arguments: Callable[[argparse.ArgumentParser], None], argv: list[str]) -> dict[str, object]:
    """The options ``argv`` (``COMMAND ...``) gives explicitly, by destination, with their values and without
    the defaults.

    :param add_arguments: adds the command's options to a parser
    :param argv: the command line after the program name, starting with the command
    """
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    unset = object()
    namespace = argparse.Namespace(**{action.dest: unset for action in parser._actions})
    given = parser.parse_args(argv[1:], namespace=namespace)
    return {name: value for name, value in vars(given).items() if value is not unset}


def refuse_changes_on_resume(
    run_dir: str,
    given: dict[str, object],
    stored: Callable[[], Any],
    as_setting: Callable[[str, object, Any], tuple[str, object]],
    noun: str,
    fresh: str,
    conflicts: Iterable[str] = (),
) -> None:
    """Raise ``ValueError`` naming every option in ``given`` that would change the stored run.

    :param run_dir: the folder given to --resume
    :param given: the options given explicitly (:func:`given_options`), those of :data:`RESUME_OPTIONS` left out
        by this function
    :param stored: reads the run's config (a frozen config with ``to_dict`` and ``from_dict``); called only
        when there is something to compare
    :param as_setting: ``(option, value, stored config)`` -> the config's field and the value it would take
    :param noun: what the folder holds, in messages (``run``, ``teacher``)
    :param fresh: what to do instead, in messages (``start a new run in another --out``)
    :param conflicts: conflicts the caller found in options of its own
    """
    if "hyperparams" in given:
        raise ValueError(
            f"--resume continues {run_dir} with the settings it was started with; --hyperparams would change "
            f"them. Drop --hyperparams, or {fresh}."
        )
    found = list(conflicts)
    given = {name: value for name, value in given.items() if name not in RESUME_OPTIONS}
    config: Any = stored() if given else None  # read only when an option is there to compare
    for name, value in given.items():
        if name == "out":
            if os.path.abspath(str(value)) != os.path.abspath(run_dir):
                found.append(f"--out {value} (the {noun}'s folder is {run_dir})")
            continue
        field, wanted = as_setting(name, value, config)
        if type(config).from_dict({**config.to_dict(), field: wanted}) != config:
            option = "--param" if name == "param" else f"--{name.replace('_', '-')}"
            found.append(f"{option} (the {noun} has {field}={getattr(config, field)!r})")
    if found:
        raise ValueError(
            f"--resume continues {run_dir} with the settings it was started with; "
            f"{', '.join(found)} would change them. Drop those options, or {fresh}."
        )
