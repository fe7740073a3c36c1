"""What a run is, as data: typed, frozen configs that check themselves on construction.

A config holds everything that decides a run's outcome and nothing about where it is written or how it
is shown (the run folder, a progress bar). The run folder's manifest stores it with
``dataclasses.asdict``, so a run can be rebuilt from its folder alone; :meth:`DistillConfig.from_dict`
reads that back, and also the older manifests that stored the command line's options.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from stable_baselines3 import PPO

from sb3_distill import schedules
from sb3_distill.common.losses import LOSSES, check_distill_loss, check_jsd_beta, check_kl_mode
from sb3_distill.common.teacher import DEFAULT_Q_TEMPERATURE
from sb3_distill.common.training_guard import DEFAULT_MAX_DIVERGENCE, check_max_divergence
from sb3_distill.corruption import PAPER_SIGMA
from sb3_distill.experiment.methods import (
    METHODS,
    PRESETS,
    TEACHER_RUN_ARGUMENTS,
    algorithm_arguments,
    check_algorithm_arguments,
)
from sb3_distill.student_sizes import STUDENT_SIZES


class ConfigError(ValueError):
    """A setting that cannot run, named with what was expected and what was received.

    :param message: the problem, starting with the setting's name
    :param setting: the name of the setting (a config field), so that a front end can name its own option
    """

    def __init__(self, message: str, setting: str | None = None):
        super().__init__(message)
        self.setting = setting


def _integer(name: str, value: Any, minimum: int, meaning: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer, got {value!r} ({type(value).__name__}).", name)
    if value < minimum:
        expected = "positive" if minimum == 1 else f"{meaning or f'>= {minimum}'}"
        raise ConfigError(f"{name} must be {expected}, got {value}.", name)
    return value


def _optional_integer(name: str, value: Any) -> int | None:
    return None if value is None else _integer(name, value, 0, "0 (off) or positive")


def parse_entries(value: Any, name: str = "student_observation") -> tuple[int, ...]:
    """Entries of a flat observation: ``[0, 2]``, ``"0,2"`` or a range ``"0:8"`` (entries 0 to 7) -> a tuple of ints."""
    if isinstance(value, str):
        text = value.replace(" ", "")
        try:
            if ":" in text:
                start, _, stop = text.partition(":")
                value = list(range(int(start), int(stop)))
            else:
                value = [int(part) for part in text.split(",") if part]
        except ValueError:
            raise ConfigError(f"{name} must be entries such as '0,2' or a range '0:8', got {value!r}.", name) from None
    if (
        not isinstance(value, (list, tuple, range))
        or not value
        or not all(isinstance(entry, int) and not isinstance(entry, bool) for entry in value)
    ):
        raise ConfigError(f"{name} must be a non-empty list of entry indices, got {value!r}.", name)
    if len(set(value)) != len(value):
        raise ConfigError(f"{name} names an entry twice: {list(value)}.", name)
    return tuple(value)


def _choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{name} must be one of {list(choices)}, got {value!r}.", name)
    return value


def _lambda(value: Any) -> float | str:
    """λ as a config holds it: a float, or the text of a schedule (``lin:3:0.1:1e6``, ``ratio``)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            schedules.parse(value, teacher_return=1.0)  # a malformed schedule fails here, with its message
            return value
    return float(schedules.check_distill_lambda(value))  # type: ignore[arg-type]


def parse_params(items: Iterable[str] | None) -> dict[str, Any]:
    """``["n_steps=64", "gamma=0.99"]`` -> ``{"n_steps": 64, "gamma": 0.99}``; strings stay strings."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.isidentifier():
            raise ConfigError(f"params expects key=value with a Python identifier as key, got {item!r}.", "params")
        try:
            params[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            params[key] = raw
    return params


def _params(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(key, str) and key.isidentifier() for key in value):
        raise ConfigError(f"{name} must be a mapping of algorithm argument names to values, got {value!r}.", name)
    try:
        json.dumps(dict(value), allow_nan=False)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{name} must hold plain values (numbers, text, lists, mappings) that the run folder can record, got {value!r}.",
            name,
        ) from None
    return dict(value)


@dataclass(frozen=True)
class DistillConfig:
    """One distillation run: a teacher distilled into a student of a chosen size by one method.

    :param teacher: an SB3 .zip, an RL Zoo run folder or ``hf://ORG/REPO``; ``None``: the bundled
        CartPole-v1 teacher
    :param env: the Gymnasium id; ``None``: read from the teacher (its config.json, Zoo folder or Hub name)
    :param method: ``ppd``, ``student-distill``, ``teacher-distill`` or ``ppo`` (PPD with λ = 0, no teacher term)
    :param student: the student's size relative to the teacher: ``smaller``, ``same`` or ``larger``
    :param steps: environment steps of distillation
    :param seed: the seed of the student, its environments and (+ 10,000) the evaluation environments
    :param n_envs: parallel environments
    :param distill_lambda: λ: a number >= 0, or ``lin:START:END:STEPS``, ``exp:START:END:STEPS``, ``ratio``;
        ``None``: 1, or the λ the method fixes (``ppo``: 0)
    :param kl_mode: ``forward`` (KL(teacher || student), the paper's) or ``reverse``
    :param distill_loss: a loss of :mod:`sb3_distill.common.losses`; ``None``: the KL ``kl_mode`` names
        (``mse`` for teachers without an action distribution)
    :param jsd_beta: β of the generalised Jensen-Shannon divergence
    :param temperature: τ of a DQN or QR-DQN teacher's softmax(Q / τ)
    :param normalize: give the student its own VecNormalize; ``None``: the suite's convention
    :param student_observation: a partially observed student: the entries of the (flat) observation it
        reads, while the teacher reads all of it (a privileged teacher); ``None``: the student reads what
        the teacher does. The student is evaluated, and saved, on those entries alone
    :param frame_stack: the student reads its last N observations (``VecFrameStack`` on the student's side)
    :param recurrent: an LSTM student (:mod:`sb3_distill.recurrent`, on sb3-contrib's ``RecurrentPPO``), saved as
        a ``RecurrentPPO`` zip
    :param preset: start from a named setting of the algorithms (``paper``); ``None``: the tools' defaults
    :param params: algorithm arguments on top of the method's defaults or preset, e.g. ``{"n_epochs": 4}``
    :param eval_episodes: episodes of the final evaluations of teacher and student
    :param teacher_score: the teacher's ``(mean, std)`` return under this run's evaluation, if measured
        already; it is then not evaluated again
    :param checkpoint_every: timesteps between checkpoints; ``None``: a tenth of ``steps``; 0: only on a signal
    :param keep_checkpoints: how many checkpoints to keep, newest first
    :param eval_every: evaluate every N timesteps on a separate environment and keep ``best_model.zip``; 0: off
    :param eval_every_episodes: episodes of each periodic evaluation; ``None``: ``eval_episodes``
    :param max_divergence: stop when a minibatch's distillation term exceeds it (a KL in nats); ``None``: no limit
    :param best: for an RL Zoo folder, take ``best_model.zip``
    :param trust_pickle: read the teacher's files without the allow-list of safe types (only files you trust)
    :param teacher_frame_stack: the teacher was trained on its last N observations (``VecFrameStack``); it is
        given one per state and stacks them itself. ``None``: an RL Zoo folder's ``frame_stack`` (outside
        Atari), else 1
    """

    teacher: str | None = None
    env: str | None = None
    method: str = "ppd"
    student: str = "larger"
    steps: int = 50_000
    seed: int = 0
    n_envs: int = 8
    distill_lambda: float | str | None = None
    kl_mode: str = "forward"
    distill_loss: str | None = None
    jsd_beta: float = 0.5
    temperature: float = DEFAULT_Q_TEMPERATURE
    normalize: bool | None = None
    student_observation: tuple[int, ...] | None = None
    frame_stack: int = 1
    recurrent: bool = False
    preset: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    eval_episodes: int = 20
    teacher_score: tuple[float, float] | None = None
    checkpoint_every: int | None = None
    keep_checkpoints: int = 2
    eval_every: int = 0
    eval_every_episodes: int | None = None
    max_divergence: float | None = DEFAULT_MAX_DIVERGENCE
    best: bool = False
    trust_pickle: bool = False
    teacher_frame_stack: int | None = None

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        _choice("method", self.method, METHODS)
        _choice("student", self.student, STUDENT_SIZES)
        for name in ("steps", "n_envs", "eval_episodes", "keep_checkpoints"):
            _integer(name, getattr(self, name), 1)
        _integer("seed", self.seed, 0)
        for name in ("checkpoint_every", "eval_every", "eval_every_episodes"):
            _optional_integer(name, getattr(self, name))
        fixed = METHODS[self.method].distill_lambda
        put(
            "distill_lambda",
            _lambda(self.distill_lambda if self.distill_lambda is not None else fixed if fixed is not None else 1.0),
        )
        if fixed is not None and self.distill_lambda != fixed:
            raise ConfigError(
                f"method {self.method!r} fixes λ = {fixed}; got distill_lambda={self.distill_lambda!r}. "
                "Use method 'ppd' to choose λ."
            )
        check_kl_mode(self.kl_mode)
        if self.distill_loss is not None:
            _choice("distill_loss", self.distill_loss, LOSSES)
        check_distill_loss(self.kl_mode, self.distill_loss)
        put("jsd_beta", check_jsd_beta(self.jsd_beta))
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature) and self.temperature > 0):
            raise ConfigError(f"temperature must be a finite number > 0, got {self.temperature!r}.", "temperature")
        if self.normalize not in (None, True, False):
            raise ConfigError(
                f"normalize must be True, False or None (the suite's convention), got {self.normalize!r}.", "normalize"
            )
        if self.student_observation is not None:
            put("student_observation", parse_entries(self.student_observation))
        _integer("frame_stack", self.frame_stack, 1)
        _integer("teacher_frame_stack", 1 if self.teacher_frame_stack is None else self.teacher_frame_stack, 1)
        if not isinstance(self.recurrent, bool):
            raise ConfigError(f"recurrent must be True or False, got {self.recurrent!r}.", "recurrent")
        if self.preset is not None:
            _choice("preset", self.preset, PRESETS)
            if self.recurrent:
                raise ConfigError(
                    f"preset {self.preset!r} is a setting of the feed-forward algorithms; a recurrent student takes "
                    "its arguments from params.",
                    "preset",
                )
        put("params", _params("params", self.params))
        try:
            METHODS[self.method].check_arguments(self.params, recurrent=self.recurrent)
        except ValueError as error:
            raise ConfigError(str(error), "params") from None
        check_max_divergence(self.max_divergence)
        if self.teacher_score is not None:
            put("teacher_score", _score_pair(self.teacher_score))
        if self.teacher is not None and not isinstance(self.teacher, str):
            raise ConfigError(
                f"teacher must be a path or hf://ORG/REPO (text), or None for the bundled one; got "
                f"{type(self.teacher).__name__}. To distil a model object, use the algorithms directly."
            )

    @property
    def checkpoint_interval(self) -> int:
        """Timesteps between checkpoints, with the default of a tenth of ``steps``."""
        return max(self.steps // 10, 1) if self.checkpoint_every is None else self.checkpoint_every

    def algorithm_params(self) -> dict[str, Any]:
        """The algorithm's arguments: the method's defaults (or preset), with ``params`` on top (as recorded:
        an RL Zoo schedule is still its text, ``lin_3e-4``)."""
        return {**METHODS[self.method].params(self.preset), **self.params}

    def algorithm_arguments(self) -> dict[str, Any]:
        """:meth:`algorithm_params` as the algorithm takes them: ``lin_<start>`` becomes SB3's linear schedule
        and ``policy_kwargs`` text (``"dict(net_arch=[64, 64], activation_fn=nn.Tanh)"``) its mapping."""
        return algorithm_arguments(self.algorithm_params())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> DistillConfig:
        """A config from :meth:`to_dict`'s output, or from an older manifest's command-line options.

        Settings added since the run was written take their defaults; unknown keys are refused.
        """
        if "param" in values or "command_line" in values or "no_progress" in values:
            values = _from_command_options(values)
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"Unknown distillation settings {unknown}; expected some of {sorted(known)}.")
        return cls(**values)


def _score_pair(value: Any) -> tuple[float, float]:
    try:
        mean, std = (float(part) for part in value)
    except (TypeError, ValueError):
        raise ConfigError(f"teacher_score must be a (mean, std) pair of numbers, got {value!r}.", "teacher_score") from None
    if not (math.isfinite(mean) and math.isfinite(std) and std >= 0):
        raise ConfigError(f"teacher_score must have a finite mean and a std >= 0, got {value!r}.", "teacher_score")
    return mean, std


#: Options of the ``distill`` command line that older manifests stored and that are not settings.
_NOT_SETTINGS = ("out", "resume", "no_progress", "command", "command_line")


def _from_command_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The settings in an older manifest's ``command`` entry (argparse's namespace of ``distill``)."""
    values = {key: value for key, value in options.items() if key not in _NOT_SETTINGS and key != "param"}
    values["params"] = parse_params(options.get("param"))
    score = values.get("teacher_score")
    if isinstance(score, str):
        values["teacher_score"] = tuple(score.split(","))
    return values


@dataclass(frozen=True)
class TeacherConfig:
    """Training a PPO teacher.

    :param env: the Gymnasium id
    :param steps: environment steps of training
    :param seed: the seed of training (and, + 10,000, of its evaluation)
    :param n_envs: parallel environments
    :param normalize: train behind VecNormalize; ``None``: the suite's convention
    :param policy: SB3 policy name; ``None``: the suite's (``MlpPolicy`` or ``CnnPolicy``)
    :param net_arch: hidden layer widths of actor and critic; ``None``: the paper's network for MuJoCo,
        Atari, MinAtar and Procgen, SB3's otherwise
    :param params: PPO arguments (SB3's defaults otherwise), as plain data: an RL Zoo schedule as its text
        (``lin_3e-4``), ``policy_kwargs`` as a mapping or its text (``"dict(activation_fn=nn.ReLU)"``)
    :param eval_episodes: episodes of the teacher's evaluation
    :param checkpoint_every: timesteps between checkpoints; ``None``: a tenth of ``steps``; 0: only on a signal
    :param keep_checkpoints: how many checkpoints to keep, newest first
    """

    env: str
    steps: int
    seed: int = 0
    n_envs: int = 8
    normalize: bool | None = None
    policy: str | None = None
    net_arch: tuple[int, ...] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    eval_episodes: int = 20
    checkpoint_every: int | None = None
    keep_checkpoints: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.env, str) or not self.env:
            raise ConfigError(f"env must be a Gymnasium id such as 'CartPole-v1', got {self.env!r}.", "env")
        for name in ("steps", "n_envs", "eval_episodes", "keep_checkpoints"):
            _integer(name, getattr(self, name), 1)
        _integer("seed", self.seed, 0)
        _optional_integer("checkpoint_every", self.checkpoint_every)
        if self.net_arch is not None:
            layers = tuple(self.net_arch)
            if not layers or not all(isinstance(width, int) and not isinstance(width, bool) and width > 0 for width in layers):
                raise ConfigError(
                    f"net_arch must be positive layer widths such as (64, 64), got {self.net_arch!r}.", "net_arch"
                )
            object.__setattr__(self, "net_arch", layers)
        if self.policy is not None and self.policy not in PPO.policy_aliases:
            raise ConfigError(
                f"policy must be one of PPO's policies {sorted(PPO.policy_aliases)}, or None for the suite's; "
                f"got {self.policy!r}.",
                "policy",
            )
        object.__setattr__(self, "params", _params("params", self.params))
        try:  # before anything is trained or written: a misspelled argument, or policy_kwargs text off the allow-list
            check_algorithm_arguments(PPO, self.params, "params", TEACHER_RUN_ARGUMENTS, "the teacher (PPO)")
        except ValueError as error:
            raise ConfigError(str(error), "params") from None

    def algorithm_arguments(self) -> dict[str, Any]:
        """``params`` as PPO takes them: ``lin_<start>`` becomes SB3's linear schedule and ``policy_kwargs``
        text its mapping."""
        return algorithm_arguments(self.params)

    @property
    def checkpoint_interval(self) -> int:
        """Timesteps between checkpoints, with the default of a tenth of ``steps``."""
        return max(self.steps // 10, 1) if self.checkpoint_every is None else self.checkpoint_every

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TeacherConfig:
        """A config from :meth:`to_dict`'s output (as a checkpoint's manifest stores it, lists for tuples).

        Settings added since the folder was written take their defaults; unknown keys are refused.
        """
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"Unknown teacher settings {unknown}; expected some of {sorted(known)}.")
        return cls(**values)


@dataclass(frozen=True)
class CorruptionConfig:
    """An imperfect copy of a teacher (paper §8.4): every parameter plus N(0, σ²) noise.

    The noise is either of a given σ (``sigma``; the paper's 0.05 by default) or learned
    (``target_fraction``): the σ whose copy keeps that fraction of the teacher's random-normalised score,
    ``(corrupted - random) / (original - random)``, found by evaluating candidates (σ = 0.05 hardly
    changes small MLP teachers' scores).

    :param teacher: an SB3 .zip, an RL Zoo run folder or ``hf://ORG/REPO``
    :param sigma: the noise's standard deviation (the paper's: 0.05, the default unless ``target_fraction``
        is given); exclusive with ``target_fraction``
    :param seed: the seed of the noise (and, + 10,000, of the evaluations)
    :param env: the Gymnasium id, to evaluate both teachers; ``None``: read from the teacher (no
        evaluation if it names none; ``target_fraction`` needs one)
    :param eval_episodes: episodes of each evaluation
    :param best: for an RL Zoo folder, corrupt ``best_model.zip``
    :param trust_pickle: read the teacher's files without the allow-list (only files you trust)
    :param target_fraction: learn σ so that the copy keeps this fraction of the teacher's score, in (0, 1)
    :param tolerance: how close to ``target_fraction`` the fraction kept must come
    :param max_evaluations: the most candidate σ the search evaluates before it gives up
    """

    teacher: str
    sigma: float | None = None
    seed: int = 0
    env: str | None = None
    eval_episodes: int = 20
    best: bool = False
    trust_pickle: bool = False
    target_fraction: float | None = None
    tolerance: float = 0.05
    max_evaluations: int = 16

    def __post_init__(self) -> None:
        if not isinstance(self.teacher, str) or not self.teacher:
            raise ConfigError(f"teacher must be a path or hf://ORG/REPO, got {self.teacher!r}.", "teacher")
        if self.target_fraction is None:
            if self.sigma is None:
                object.__setattr__(self, "sigma", PAPER_SIGMA)
        elif self.sigma is not None:
            raise ConfigError(
                f"sigma and target_fraction exclude each other (sigma={self.sigma!r}, target_fraction="
                f"{self.target_fraction!r}): give sigma for fixed noise or target_fraction to learn sigma.",
                "sigma",
            )
        if self.sigma is not None and not (self._number(self.sigma) and math.isfinite(self.sigma) and self.sigma >= 0):
            raise ConfigError(f"sigma must be a finite number >= 0, got {self.sigma!r}.", "sigma")
        if self.target_fraction is not None and not (self._number(self.target_fraction) and 0 < self.target_fraction < 1):
            raise ConfigError(
                f"target_fraction must be a number strictly between 0 and 1 (the fraction of the teacher's "
                f"random-normalised score to keep), got {self.target_fraction!r}.",
                "target_fraction",
            )
        if not (self._number(self.tolerance) and 0 < self.tolerance < 1):
            raise ConfigError(f"tolerance must be a number strictly between 0 and 1, got {self.tolerance!r}.", "tolerance")
        _integer("seed", self.seed, 0)
        _integer("eval_episodes", self.eval_episodes, 1)
        _integer("max_evaluations", self.max_evaluations, 1)

    @staticmethod
    def _number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
