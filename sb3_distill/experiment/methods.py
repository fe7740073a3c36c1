"""The one registry of distillation methods: their algorithm, the tools' default arguments and presets.

The tools (the run API, the CLI and the grid) start each method from ``defaults``: the paper's appendix
A.3 (PPD: n_steps=64, gamma=0.999, GAE 0.9, ent_coef=0; student- and teacher-distill: n_steps=5, one
gradient step per rollout), with the minibatch scaled to the 8 environments that suit a 2-core machine
(the paper used 18). ``preset="paper"`` gives the paper's values exactly; the presets themselves live on
the algorithms' constructors (:func:`sb3_distill.common.presets.presets_of`), which read them.

PPD differs from the paper in one place: 10 epochs over each rollout, not 4 (issue 6). Early in
training the distillation term's progress is bound by the number of optimizer steps it gets, and with 4
epochs PPD takes one step per 64 samples where student-distill takes one per 40, so it fell behind on
MuJoCo in the first 100k steps. λ stays 1: a larger λ speeds the start too, but the paper finds (§8.7)
that it costs final performance, and it ties the student closer to an imperfect teacher.
docs/results/ppd-early/README.md has the measurements.

``ppo`` is the no-teacher baseline: PPD with λ = 0, which is PPO exactly (tested), run with PPD's
defaults so that it differs from PPD in the distillation term only.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from stable_baselines3.common.utils import LinearSchedule

from sb3_distill.common.distillation_algorithm import DistillationAlgorithm
from sb3_distill.common.presets import presets_of
from sb3_distill.experiment.policy_kwargs_text import parse_policy_kwargs
from sb3_distill.ppd import PPD
from sb3_distill.student_distill import StudentDistill
from sb3_distill.teacher_distill import TeacherDistill


@dataclass(frozen=True)
class Method:
    """A distillation method as the tools run it.

    :param name: its name in configs, on the command line and in specs
    :param algorithm: the class that implements it
    :param defaults: the algorithm arguments the tools start from when no preset is chosen
    :param distill_lambda: λ fixed by the method (``ppo``: 0), or ``None`` when λ is the run's to choose
    """

    name: str
    algorithm: type[DistillationAlgorithm]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    distill_lambda: float | None = None

    @property
    def presets(self) -> Mapping[str, Mapping[str, Any]]:
        return presets_of(self.algorithm)

    def student_algorithm(self, recurrent: bool = False) -> type[DistillationAlgorithm]:
        """The class that implements the method: :attr:`algorithm`, or with ``recurrent`` its LSTM student of
        :mod:`sb3_distill.recurrent` (sb3-contrib's ``RecurrentPPO``; the ``contrib`` extra)."""
        if not recurrent:
            return self.algorithm
        try:
            from sb3_distill import recurrent as recurrent_students
        except ModuleNotFoundError as error:
            raise ImportError(
                f"A recurrent {self.name} student builds on sb3-contrib's RecurrentPPO: pip install 'sb3-distill[contrib]'."
            ) from error
        return getattr(recurrent_students, RECURRENT_STUDENTS[self.name])  # type: ignore[no-any-return]

    def check_arguments(self, params: Mapping[str, Any], where: str = "params", recurrent: bool = False) -> None:
        """Refuse argument names the algorithm does not take (suggesting the closest), arguments that the run
        sets itself, text where the algorithm expects a number (other than an RL Zoo ``lin_<start>``
        schedule for arguments that take schedules), and ``policy_kwargs`` text off the allow-list of
        :mod:`sb3_distill.experiment.policy_kwargs_text`.

        :param params: the algorithm arguments, as a config records them
        :param where: where they come from, named first in errors
        :raises ValueError: naming the argument, what was expected and what was received
        """
        algorithm = self.student_algorithm(recurrent)
        check_algorithm_arguments(algorithm, params, where, RUN_ARGUMENTS, f"{self.name} ({algorithm.__name__})")

    def params(self, preset: str | None) -> dict[str, Any]:
        """The algorithm arguments a run starts from: ``preset``'s, without λ and the KL direction (the run
        sets those), or the tools' defaults."""
        if preset is None:
            return dict(self.defaults)
        if preset not in self.presets:
            raise ValueError(f"Unknown preset {preset!r} for {self.name}; expected one of {sorted(self.presets)}, or None.")
        return {key: value for key, value in self.presets[preset].items() if key not in ("distill_lambda", "kl_mode")}


#: Constructor arguments that a run sets itself, and where a run takes them from instead.
RUN_ARGUMENTS = {
    "policy": "the suite's policy (MlpPolicy or CnnPolicy)",
    "env": "the run's env",
    "seed": "the run's seed",
    "tensorboard_log": "the run folder's tb/",
    "preset": "the run's preset",
    "teacher": "the run's teacher",
    "teacher_vecnormalize": "the statistics beside the teacher",
    "distill_lambda": "the run's distill_lambda (--lambda)",
    "kl_mode": "the run's kl_mode (--kl-mode)",
    "distill_loss": "the run's distill_loss (--distill-loss)",
    "jsd_beta": "the run's jsd_beta (--jsd-beta)",
    "device": "the default device",
    "_init_setup_model": "always True",
}


#: PPO arguments that teacher training sets itself, and where it takes them from instead.
TEACHER_RUN_ARGUMENTS = {
    "policy": "the run's policy (--policy)",
    "env": "the run's env (--env)",
    "seed": "the run's seed (--seed)",
    "tensorboard_log": "the teacher folder's tb/ (--tensorboard-log)",
    "device": "the run's device (--device)",
    "_init_setup_model": "always True",
}


def check_algorithm_arguments(
    algorithm: type[Any], params: Mapping[str, Any], where: str, run_arguments: Mapping[str, str], label: str
) -> None:
    """Refuse arguments that ``algorithm``'s constructor does not take, or that the run sets (``run_arguments``:
    name -> where the run takes it from), and values of the wrong kind where the signature tells.

    :param algorithm: the SB3 algorithm class
    :param params: the arguments, as a config records them (schedules and ``policy_kwargs`` may be text)
    :param where: where the arguments come from, named first in errors
    :param run_arguments: constructor arguments the run sets itself
    :param label: the algorithm as errors name it
    :raises ValueError: naming the argument, what was expected and what was received
    """
    signature = inspect.signature(algorithm.__init__)
    for name, value in params.items():
        if name in run_arguments:
            raise ValueError(f"{where}: {name} is not an algorithm argument a run takes: {run_arguments[name]}.")
        unknown = unknown_argument_hint(algorithm, name, run_arguments)
        if unknown is not None:
            raise ValueError(f"{where}: unknown argument {name!r} of {label}; {unknown}")
        parameter = signature.parameters[name]
        default = parameter.default
        takes_number = isinstance(default, (int, float)) and not isinstance(default, bool)
        # an argument annotated "... | str" reads its own text form (the constructor checks it before training)
        takes_text = "str" in (part.strip() for part in str(parameter.annotation).split("|"))
        zoo_schedule = takes_schedule(parameter) and is_zoo_schedule(value) if isinstance(value, str) else False
        if takes_number and isinstance(value, str) and not takes_text and not zoo_schedule:
            schedules = " or an RL Zoo schedule such as lin_3e-4" if takes_schedule(parameter) else ""
            raise ValueError(f"{where}: {name} expects a number{schedules}, got {value!r}.")
        if name == "policy_kwargs":
            _check_policy_kwargs(value, where)


def _check_policy_kwargs(value: Any, where: str) -> None:
    # text is read now, so that a run refuses it before it trains or evaluates anything
    if isinstance(value, str):
        try:
            parse_policy_kwargs(value)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
    elif value is not None and not isinstance(value, Mapping):
        raise ValueError(
            f"{where}: policy_kwargs expects a mapping or its text such as 'dict(net_arch=[64, 64])', got {value!r}."
        )


def algorithm_arguments(params: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments as a config records them (plain data) -> as the algorithm takes them: an RL Zoo
    ``lin_<start>`` becomes SB3's linear schedule and ``policy_kwargs`` text its mapping.

    :param params: the recorded arguments
    :return: the constructor's keyword arguments
    """
    arguments = {
        name: zoo_schedule(value) if isinstance(value, str) and is_zoo_schedule(value) else value
        for name, value in params.items()
    }
    policy_kwargs = params.get("policy_kwargs")
    if isinstance(policy_kwargs, str):
        arguments["policy_kwargs"] = parse_policy_kwargs(policy_kwargs)
    return arguments


def unknown_argument_hint(cls: type[Any], name: str, excluded: Iterable[str] = ()) -> str | None:
    """``None`` if ``cls``'s constructor takes ``name`` (and it is not ``excluded``), else what to say instead:
    the closest name it takes, or all of them."""
    known = [known for known in inspect.signature(cls.__init__).parameters if known != "self" and known not in excluded]
    if name in known:
        return None
    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]!r}?" if close else f"expected one of {sorted(known)}."


def takes_schedule(parameter: inspect.Parameter) -> bool:
    """Whether the argument takes a schedule: annotated ``Schedule``, or SB3's resolved ``Callable[[float], float]``."""
    annotation = str(parameter.annotation)
    return "Schedule" in annotation or "Callable" in annotation


def is_zoo_schedule(value: str) -> bool:
    """The RL Zoo's text form of a linear schedule, ``lin_<start>`` (from start to 0 over training)."""
    if not value.startswith("lin_"):
        return False
    try:
        float(value[len("lin_") :])
    except ValueError:
        return False
    return True


def zoo_schedule(value: str) -> LinearSchedule:
    """``lin_3e-4`` -> SB3's schedule from 3e-4 at the start to 0 at the end, as the RL Zoo reads it."""
    return LinearSchedule(float(value[len("lin_") :]), 0.0, 1.0)


_PPD_DEFAULTS = MappingProxyType(
    dict(n_steps=64, batch_size=256, n_epochs=10, gamma=0.999, gae_lambda=0.9, learning_rate=3e-4, ent_coef=0.0)
)
_ONLINE_DEFAULTS = MappingProxyType(dict(n_steps=5, learning_rate=3e-4, ent_coef=0.0))

METHODS: Mapping[str, Method] = MappingProxyType(
    {
        "ppd": Method("ppd", PPD, _PPD_DEFAULTS),
        "student-distill": Method("student-distill", StudentDistill, _ONLINE_DEFAULTS),
        "teacher-distill": Method("teacher-distill", TeacherDistill, _ONLINE_DEFAULTS),
        "ppo": Method("ppo", PPD, _PPD_DEFAULTS, distill_lambda=0.0),
    }
)

#: The LSTM student of each method, by class name in :mod:`sb3_distill.recurrent` (imported on demand: it needs
#: sb3-contrib); ``ppo`` is PPD's with λ = 0, as for feed-forward students.
RECURRENT_STUDENTS: Mapping[str, str] = MappingProxyType(
    {
        "ppd": "RecurrentPPD",
        "student-distill": "RecurrentStudentDistill",
        "teacher-distill": "RecurrentTeacherDistill",
        "ppo": "RecurrentPPD",
    }
)

#: The presets every method accepts.
PRESETS: tuple[str, ...] = tuple(sorted(set.intersection(*(set(method.presets) for method in METHODS.values()))))


def get_method(name: str) -> Method:
    """The method called ``name``; an error lists the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"Unknown method {name!r}; expected one of {sorted(METHODS)}.") from None


def method_params(method: str, preset: str | None) -> dict[str, Any]:
    """The algorithm arguments ``method`` starts from (see :meth:`Method.params`)."""
    return get_method(method).params(preset)
