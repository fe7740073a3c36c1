"""RL Zoo hyperparameter files (``hyperparams/ppo.yml``) as settings of a run, read without running code.

An RL Zoo file maps environment ids to the settings the Zoo trains with::

    CartPole-v1:
      n_envs: 8
      n_timesteps: !!float 1e5
      policy: 'MlpPolicy'
      n_steps: 32
      learning_rate: lin_0.001
      policy_kwargs: "dict(net_arch=[64, 64], activation_fn=nn.Tanh)"

:func:`read_zoo_hyperparams` picks the entry of one environment as the Zoo does (the id, else ``atari`` for
Atari ids, else ``default``) and reads it as the Zoo's ``ExperimentManager`` would: ``n_timesteps`` is the
run's steps, ``n_envs`` its environments (the Zoo's default: 1), ``normalize`` its VecNormalize (default:
off), ``policy`` the policy, and every other key an algorithm argument. :func:`apply_zoo_hyperparams` puts
those into a config's keyword arguments, below the settings given explicitly.

Unlike the Zoo, nothing in the file runs: it is read with YAML's safe loader (a key given twice is an
error), ``policy_kwargs`` and ``normalize`` text is read by :mod:`~sb3_distill.experiment.policy_kwargs_text`
instead of ``eval``, and keys that name code to import (``env_wrapper``, ``callback``, ...) or features that
runs do not have are refused with what to do instead. ``.py`` hyperparameter files are refused: the Zoo
runs them.
"""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from stable_baselines3 import PPO
from stable_baselines3.common.atari_wrappers import AtariWrapper

from sb3_distill import envs
from sb3_distill.common.teacher_sources import HUB_PREFIX, teacher_env_id
from sb3_distill.common.yaml_files import DuplicateKey, refuse_duplicate_keys
from sb3_distill.experiment.configs import DistillConfig, TeacherConfig
from sb3_distill.experiment.methods import TEACHER_RUN_ARGUMENTS, check_algorithm_arguments, get_method
from sb3_distill.experiment.policy_kwargs_text import read_python_literal
from sb3_distill.teachers import bundled_teacher_path

__all__ = ["ZooHyperparams", "ZooHyperparamsError", "apply_zoo_hyperparams", "read_zoo_hyperparams", "with_zoo_hyperparams"]

#: Zoo keys that name code to import or features runs do not have, and what to do instead.
REFUSED_KEYS = {
    "env_wrapper": "it names Gymnasium wrappers to import, and runs build each suite's environments themselves "
    "(sb3_distill/envs); remove it, or register an environment id that applies the wrappers and use that id",
    "vec_env_wrapper": "it names VecEnv wrappers to import, and runs build their VecEnv themselves; remove it",
    "frame_stack": "runs stack frames only where the suite does (Atari: 4); remove it",
    "callback": "it names callbacks to import; remove it, and pass callbacks from Python "
    "(sb3_distill.experiment.distill(config, callbacks=[...]))",
    "env_kwargs": "runs make environments with their registered arguments; remove it, or register an environment "
    "id with those arguments (gymnasium.register) and use that id",
    "eval_env_kwargs": "runs evaluate on the registered environment; remove it",
    "monitor_kwargs": "runs use Monitor's defaults; remove it",
}
#: Zoo keys that are settings of the run, not algorithm arguments.
RUN_KEYS = ("n_timesteps", "n_envs", "normalize", "policy")
#: The entries the Zoo falls back to, in its order, after the environment's own.
ATARI_ENTRY, DEFAULT_ENTRY = "atari", "default"
#: YAML 1.1, which PyYAML reads, takes ``1e6`` and ``1.0e3`` for text; the Zoo's files mean numbers.
_EXPONENT_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")
_ATARI_WRAPPER = "stable_baselines3.common.atari_wrappers.AtariWrapper"


@dataclass(frozen=True)
class ZooHyperparams:
    """One environment's entry of an RL Zoo hyperparameter file, as the settings of a run.

    :param path: the file
    :param env_id: the environment the entry was chosen for
    :param entry: the entry's key: ``env_id``, ``atari`` or ``default``
    :param steps: ``n_timesteps``; ``None`` when the entry has none
    :param n_envs: ``n_envs`` (the Zoo's default: 1)
    :param normalize: whether ``normalize`` asks for VecNormalize (the Zoo's default: no)
    :param policy: ``policy``; ``None`` when the entry has none
    :param params: every other key: algorithm arguments, as plain data (schedules and ``policy_kwargs`` as text)
    """

    path: str
    env_id: str
    entry: str
    steps: int | None = None
    n_envs: int = 1
    normalize: bool = False
    policy: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """The entry as errors name it: ``ppo.yml [CartPole-v1]``."""
        return f"{self.path} [{self.entry}]"


class ZooHyperparamsError(ValueError):
    """A hyperparameter file, or an entry of it, that a run cannot take; the message names the file."""


def read_zoo_hyperparams(path: str, env_id: str) -> ZooHyperparams:
    """The entry of ``env_id`` in the RL Zoo hyperparameter file ``path``, checked and read.

    :param path: a YAML file in the format of the Zoo's ``hyperparams/ppo.yml``
    :param env_id: the run's Gymnasium id; Atari ids fall back to the ``atari`` entry, then any id to ``default``
    :return: the entry's settings
    :raises ZooHyperparamsError: the file cannot be read, holds no entry for ``env_id``, gives a key twice, or
        the entry holds a key or value that runs cannot take (each named, with what to do)
    """
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".yml", ".yaml"):
        hint = " The RL Zoo runs .py hyperparameter files as code; write the settings as YAML." if extension == ".py" else ""
        raise ZooHyperparamsError(f"{path}: expected a YAML hyperparameter file (.yml or .yaml), got {path!r}.{hint}")
    document = _load_yaml(path)
    if not isinstance(document, Mapping) or not document:
        raise ZooHyperparamsError(f"{path}: expected a mapping of environment ids to hyperparameters, got {document!r}.")
    suite = envs.suite_of(env_id)
    for entry in (env_id, ATARI_ENTRY if suite.name == "atari" else None, DEFAULT_ENTRY):
        if entry is not None and entry in document:
            break
    else:
        raise ZooHyperparamsError(
            f"{path} has no entry for {env_id!r}"
            + (" (nor 'atari')" if suite.name == "atari" else "")
            + f" and no 'default'; its entries: {sorted(map(str, document))}. Add one, or choose another file or --env."
        )
    values = document[entry]
    where = f"{path} [{entry}]"
    if not isinstance(values, Mapping):
        raise ZooHyperparamsError(f"{where}: expected a mapping of hyperparameters, got {values!r}.")
    values = dict(values)
    for key in REFUSED_KEYS:
        if key in values and not _suite_applies(key, values[key], suite.name):
            raise ZooHyperparamsError(f"{where}: {key} is not supported: {_refusal(key, values[key], suite.name)}.")
    policy = values.get("policy")
    if policy is not None and (not isinstance(policy, str) or "." in policy):
        raise ZooHyperparamsError(
            f"{where}: policy must be the name of one of PPO's policies {sorted(PPO.policy_aliases)}, got {policy!r} "
            "(a class to import, which runs do not do)."
        )
    steps = values.get("n_timesteps")
    return ZooHyperparams(
        path=path,
        env_id=env_id,
        entry=str(entry),
        steps=None if steps is None else _count(where, "n_timesteps", steps),
        n_envs=_count(where, "n_envs", values.get("n_envs", 1)),
        normalize=_normalize(where, values.get("normalize", False), suite),
        policy=policy,
        params={
            str(key): _number_text(value) for key, value in values.items() if key not in RUN_KEYS and key not in REFUSED_KEYS
        },
    )


def apply_zoo_hyperparams(
    hyperparams: ZooHyperparams,
    config_class: type[DistillConfig] | type[TeacherConfig],
    arguments: Mapping[str, Any],
    given: Collection[str] | None = None,
) -> dict[str, Any]:
    """``arguments`` of a :class:`DistillConfig` or :class:`TeacherConfig` with ``hyperparams`` filled in
    where they were not given explicitly; ``params`` are merged, those of ``arguments`` on top.

    A distillation's student gets the suite's policy, so the entry's ``policy`` must be that one; a
    teacher's is the entry's. The entry's algorithm arguments are checked here against the method's (or
    PPO's) constructor, so that errors name the file.

    :param hyperparams: an entry read by :func:`read_zoo_hyperparams`
    :param config_class: the config the arguments are for
    :param arguments: the config's keyword arguments
    :param given: the names in ``arguments`` given explicitly, which win over the file; ``None``: those whose
        value is not ``None``
    :return: the config's keyword arguments
    :raises ZooHyperparamsError: the entry does not fit the run (named, with what to do)
    """
    explicit = {name for name, value in arguments.items() if value is not None} if given is None else set(given)
    env_id = arguments.get("env")
    if env_id is not None and env_id != hyperparams.env_id:
        raise ZooHyperparamsError(
            f"{hyperparams.where} was read for {hyperparams.env_id!r}, but the run's env is {env_id!r}; "
            "read the entry for the run's env."
        )
    result = dict(arguments)
    for name, value in (("steps", hyperparams.steps), ("n_envs", hyperparams.n_envs), ("normalize", hyperparams.normalize)):
        if value is not None and name not in explicit:
            result[name] = value
    file_params = dict(hyperparams.params)
    if config_class is TeacherConfig:
        if hyperparams.policy is not None and "policy" not in explicit:
            result["policy"] = hyperparams.policy
    else:
        student_policy = envs.suite_of(hyperparams.env_id).policy
        if hyperparams.policy is not None and hyperparams.policy != student_policy:
            raise ZooHyperparamsError(
                f"{hyperparams.where}: policy {hyperparams.policy!r} is not the student's: students of "
                f"{hyperparams.env_id} get {student_policy!r}. Set policy: {student_policy} or remove it."
            )
    try:  # the config checks the merged params too, but only here can an error name the file
        if config_class is TeacherConfig:
            check_algorithm_arguments(PPO, file_params, hyperparams.where, TEACHER_RUN_ARGUMENTS, "the teacher (PPO)")
        else:
            get_method(result.get("method", DistillConfig.method)).check_arguments(file_params, hyperparams.where)
    except ValueError as error:
        raise ZooHyperparamsError(str(error)) from None
    result["params"] = {**file_params, **dict(arguments.get("params") or {})}
    return result


def with_zoo_hyperparams(
    path: str,
    config_class: type[DistillConfig] | type[TeacherConfig],
    arguments: Mapping[str, Any],
    given: Collection[str] | None = None,
) -> dict[str, Any]:
    """:func:`read_zoo_hyperparams` for the run's environment, then :func:`apply_zoo_hyperparams`.

    The environment is ``arguments["env"]``, or for a distillation without one, the one its teacher names
    (as :func:`sb3_distill.experiment.distill` reads it).

    :param path: the hyperparameter file
    :param config_class: :class:`DistillConfig` or :class:`TeacherConfig`
    :param arguments: the config's keyword arguments
    :param given: the names in ``arguments`` given explicitly; ``None``: those whose value is not ``None``
    :return: the config's keyword arguments
    :raises ZooHyperparamsError: as the two functions do, or no environment id is known
    """
    env_id = arguments.get("env")
    source = None
    if env_id is None and config_class is DistillConfig:
        teacher = arguments.get("teacher")
        source = bundled_teacher_path() if teacher is None else teacher
        env_id = teacher_env_id(source if source.startswith(HUB_PREFIX) else os.path.abspath(source))
    if not isinstance(env_id, str) or not env_id:
        read = f", nor read from the teacher {source!r}" if source is not None else ""
        raise ZooHyperparamsError(
            f"{path}: an entry is chosen by the run's env id, and none is given{read}; give env (--env)."
        )
    return apply_zoo_hyperparams(read_zoo_hyperparams(path, env_id), config_class, arguments, given)


def _load_yaml(path: str) -> Any:
    """The file's data, by YAML's safe loader (no tags that build objects), refusing a key given twice."""
    try:
        with open(path) as file:
            text = file.read()
    except OSError as error:
        raise ZooHyperparamsError(f"Cannot read the hyperparameter file {path!r}: {error.strerror}.") from None
    try:
        refuse_duplicate_keys(yaml.compose(text), path)
        return yaml.safe_load(text)
    except DuplicateKey as error:
        raise ZooHyperparamsError(str(error)) from None
    except yaml.YAMLError as error:
        raise ZooHyperparamsError(f"{path}: not valid YAML for the safe loader: {' '.join(str(error).split())}") from None


def _count(where: str, key: str, value: Any) -> int:
    """``n_timesteps`` and ``n_envs``: an integer >= 1, also written ``!!float 1e6`` or ``1e6``."""
    number = value
    if isinstance(number, str):
        try:
            number = float(number)
        except ValueError:
            pass
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ZooHyperparamsError(f"{where}: {key} must be a whole number >= 1 such as 8 or !!float 1e6, got {value!r}.")
    return number


def _number_text(value: Any) -> Any:
    """``"1e-3"`` -> ``0.001``: numbers that PyYAML reads as text (YAML 1.1); other values unchanged."""
    if isinstance(value, str) and _EXPONENT_NUMBER.fullmatch(value.strip()):
        return float(value)
    return value


def _normalize(where: str, value: Any, suite: envs.Suite) -> bool:
    """The Zoo's ``normalize``: a bool, or VecNormalize's arguments as a mapping or its text
    (``"{'norm_obs': True, 'norm_reward': False}"``), as the run's ``normalize`` setting.

    Runs normalise as their suite does (``sb3_distill.envs.make``): classic control and MuJoCo observations
    and rewards, image suites rewards only. A mapping that asks for exactly that, or for nothing, is taken;
    anything else is refused rather than run differently from what the file says.
    """
    if value is False:
        return False
    # true is VecNormalize's defaults, as in the Zoo: observations and rewards
    try:
        options = {} if value is True else read_python_literal(value, "normalize") if isinstance(value, str) else value
    except ValueError as error:
        raise ZooHyperparamsError(f"{where}: {error}") from None
    if not isinstance(options, Mapping):
        raise ZooHyperparamsError(
            f"{where}: normalize must be true, false or VecNormalize's options such as "
            f"\"{{'norm_obs': True, 'norm_reward': False}}\", got {value!r}."
        )
    unsupported = sorted(str(key) for key in options if key not in ("norm_obs", "norm_reward"))
    if unsupported:
        raise ZooHyperparamsError(
            f"{where}: normalize option(s) {unsupported} are not supported: runs build VecNormalize with its "
            "defaults and choose only norm_obs and norm_reward; remove them."
        )
    if not all(isinstance(flag, bool) for flag in options.values()):
        raise ZooHyperparamsError(f"{where}: normalize's norm_obs and norm_reward must be true or false, got {value!r}.")
    wanted = (options.get("norm_obs", True), options.get("norm_reward", True))  # VecNormalize's defaults
    if wanted == (False, False):
        return False
    # what sb3_distill.envs.make(normalize=True) builds for the suite
    suite_pair = (True, True) if suite.name == "classic" else (suite.normalize_obs, suite.normalize_reward)
    if wanted != suite_pair:
        raise ZooHyperparamsError(
            f"{where}: normalize asks for VecNormalize(norm_obs={wanted[0]}, norm_reward={wanted[1]}), but runs on the "
            f"{suite.name} suite normalise with norm_obs={suite_pair[0]}, norm_reward={suite_pair[1]} or not at all; "
            "use normalize: true or false."
        )
    return True


def _suite_applies(key: str, value: Any, suite: str) -> bool:
    """Whether a refused key asks for exactly what the suite applies anyway (the Atari pipeline)."""
    if suite != "atari":
        return False
    if key == "frame_stack":
        from sb3_distill.envs.atari import FRAME_STACK

        return value == FRAME_STACK and not isinstance(value, bool)
    return key == "env_wrapper" and _atari_wrapper_difference(value) is None


def _atari_wrapper_difference(value: Any) -> str | None:
    """How ``env_wrapper`` differs from the Atari suite's training wrapper; ``None`` when it is the same."""
    items = value if isinstance(value, list) else [value]
    if len(items) != 1:
        return "runs apply AtariWrapper alone"
    item = items[0]
    name, kwargs = (next(iter(item.items())) if len(item) == 1 else (None, None)) if isinstance(item, Mapping) else (item, {})
    if name != _ATARI_WRAPPER or not isinstance(kwargs, (Mapping, type(None))):
        return f"runs apply {_ATARI_WRAPPER} alone"
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(AtariWrapper.__init__).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    # sb3_distill.envs.atari: the episode ends at a life loss in training, rewards are not clipped
    suite = {**defaults, "terminal_on_life_loss": True, "clip_reward": False}
    wanted = {**defaults, **dict(kwargs or {})}
    different = sorted(key for key in set(suite) | set(wanted) if suite.get(key, "?") != wanted.get(key, "?"))
    if not different:
        return None
    asked = ", ".join(f"{key}={wanted.get(key, '?')!r}" for key in different)
    kept = ", ".join(f"{key}={suite.get(key, '?')!r}" for key in different)
    return f"it asks for AtariWrapper with {asked}, and the Atari suite applies it with {kept}"


def _refusal(key: str, value: Any, suite: str) -> str:
    if suite == "atari" and key == "env_wrapper":
        return (
            f"{_atari_wrapper_difference(value)} (sb3_distill/envs/atari.py, rewards normalised instead of clipped); "
            f"remove env_wrapper and frame_stack to train with the suite's pipeline"
        )
    if suite == "atari" and key == "frame_stack":
        return "the Atari suite stacks 4 frames; remove it or set frame_stack: 4"
    return REFUSED_KEYS[key]
