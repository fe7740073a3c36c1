"""Benchmark specs: YAML files naming environments, methods, student sizes, seeds and teacher variants.

Every value is checked before anything runs, and an error names the line of the spec it comes from: a
key given twice (YAML would keep the last without a word), an algorithm argument that the method's (or,
under ``teacher_params``, PPO's) constructor does not take, with the closest name it does, and an
argument that the grid sets itself for each run::

    seeds: [0, 1]                       # teacher seed i is distilled with student seed i
    methods: [ppd, student-distill, teacher-distill, ppo]   # ppo: the no-teacher baseline
    students: [smaller, larger]
    teachers: [original, corrupted:0.05, corrupted:0.5x]   # imperfect teachers (§8.4): sigma 0.05, or the
                                        # sigma whose copy keeps 0.5 of the teacher's score (searched)
    envs:
      CartPole-v1:
        teacher: train                  # or a teacher SOURCE: zip, RL Zoo folder, hf://ORG/REPO
        teacher_steps: 100000
        distill_steps: 50000
        eval_episodes: 20               # default: the suite's (paper §7)
        curve_points: 10                # evaluations of each student during training, for its learning curve
        curve_episodes: 5               # episodes of each of those evaluations
        student_observation: 0:8        # the students read these entries of the observation, the teacher all
        teacher_frame_stack: 4          # a given teacher trained behind VecFrameStack(4): it stacks its own
        teacher_params: {n_steps: 64}   # PPO arguments of the teacher
        params: {ppd: {learning_rate: 0.001}}   # per-method algorithm arguments
    sweep:                              # optional: one run per combination, per method (paper §8.7: λ)
      ppd: {lambda: [0.5, 1, 2, 5], n_epochs: [4, 10]}   # lambda: --lambda (a number or a schedule)
      student-distill: {preset: [null, paper]}           # preset: --preset (null: the tools' defaults)
      ppo: [{}, {frame_stack: 4}, {recurrent: true}]     # or a list of points: the student's memory
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from typing import Any

import yaml
from stable_baselines3 import PPO

from sb3_distill.common.yaml_files import DuplicateKey, refuse_duplicate_keys
from sb3_distill.envs import check_env_id
from sb3_distill.experiment.configs import ConfigError, parse_entries
from sb3_distill.experiment.methods import METHODS as METHOD_REGISTRY
from sb3_distill.experiment.methods import PRESETS, RUN_ARGUMENTS, unknown_argument_hint
from sb3_distill.student_sizes import STUDENT_SIZES

METHODS = tuple(METHOD_REGISTRY)
TOP_LEVEL_KEYS = ("seeds", "methods", "students", "teachers", "envs", "sweep")
#: One point of a sweep: sorted (argument, value) pairs; ``()`` is the method's defaults.
Setting = tuple[tuple[str, Any], ...]
ENV_KEYS = (
    "teacher",
    "teacher_steps",
    "distill_steps",
    "eval_episodes",
    "teacher_params",
    "params",
    "n_envs",
    "curve_points",
    "curve_episodes",
    "student_observation",
    "teacher_frame_stack",
)


#: Sweep axes that are settings of a run rather than algorithm arguments (see ``plan.RUN_SETTINGS``).
SWEEP_SETTINGS = ("lambda", "preset", "frame_stack", "recurrent")
#: How a spec gives what a run would otherwise take as an algorithm argument, where it can.
GRID_WAYS = {
    "distill_lambda": "sweep 'lambda' under sweep: instead",
    "preset": "sweep 'preset' under sweep: instead",
    "env": "name environments under envs: instead",
    "seed": "list them under seeds: instead",
    "teacher": "give an environment's teacher: instead",
}
#: PPO arguments that the grid's teacher training sets itself.
TEACHER_RUN_ARGUMENTS = ("policy", "env", "seed", "tensorboard_log", "_init_setup_model")


class SpecError(ValueError):
    """A spec that cannot run, with the file and line of the offending value."""


@dataclass(frozen=True)
class TeacherVariant:
    """``original``, or ``corrupted`` with N(0, sigma²) noise on every parameter: of a given sigma
    (``corrupted:0.05``), or of the sigma whose copy keeps ``target_fraction`` of the original's score
    (``corrupted:0.5x``), which the variant's teacher job searches and records in its ``config.json``.

    ``sigma > 0`` marks every corrupted variant: a calibrated one's ``sigma`` is ``math.inf`` (not known
    before its job runs), so it runs with, and sorts after, the fixed-sigma copies.
    """

    sigma: float = 0.0
    target_fraction: float | None = None

    def __post_init__(self) -> None:
        if self.target_fraction is not None:
            object.__setattr__(self, "sigma", math.inf)

    @property
    def name(self) -> str:
        """The variant's folder name: ``original``, ``corrupted0.05`` (sigma) or ``corrupted0.5x`` (a fraction kept)."""
        if self.target_fraction is not None:
            return f"corrupted{self.target_fraction:g}x"
        return "original" if self.sigma == 0 else f"corrupted{self.sigma:g}"


@dataclass(frozen=True)
class EnvSpec:
    env_id: str
    teacher: str  # "train" or a teacher source
    teacher_steps: int
    distill_steps: int
    eval_episodes: int
    n_envs: int
    curve_points: int = 10
    curve_episodes: int = 5
    teacher_params: dict[str, Any] = field(default_factory=dict)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the entries of the flat observation that the students read (the teacher reads all); None: all of it
    student_observation: tuple[int, ...] | None = None
    #: a given teacher trained behind ``VecFrameStack(N)``: it stacks its last N observations itself; None: it reads one
    teacher_frame_stack: int | None = None


@dataclass(frozen=True)
class BenchSpec:
    path: str
    seeds: tuple[int, ...]
    methods: tuple[str, ...]
    students: tuple[str, ...]
    teachers: tuple[TeacherVariant, ...]
    envs: tuple[EnvSpec, ...]
    sweeps: dict[str, tuple[Setting, ...]] = field(default_factory=dict)  # method -> its settings

    def settings(self, method: str) -> tuple[Setting, ...]:
        return self.sweeps.get(method, ((),))


#: The specs that ship with the package (``benchmarks/specs`` in a checkout links here).
SHIPPED_SPECS = os.path.join(os.path.dirname(__file__), "specs")


def shipped_specs() -> list[str]:
    """The names of the shipped specs, e.g. ``small-cpu``."""
    return sorted(name[: -len(".yaml")] for name in os.listdir(SHIPPED_SPECS) if name.endswith(".yaml"))


def resolve_spec(spec: str) -> str:
    """The path of ``spec``: a file's path as given, or a shipped spec's by its name (``small-cpu``)."""
    if os.path.exists(spec):
        return spec
    shipped = os.path.join(SHIPPED_SPECS, spec if spec.endswith(".yaml") else f"{spec}.yaml")
    if os.path.sep not in spec and os.path.isfile(shipped):
        return shipped
    raise SpecError(f"No spec {spec!r}: not a file, nor a shipped spec ({', '.join(shipped_specs())}).")


def load_spec(path: str) -> BenchSpec:
    """Read and check a spec; raise :class:`SpecError` naming the line of the first problem."""
    try:
        with open(path) as file:
            text = file.read()
    except OSError as error:
        raise SpecError(f"Cannot read the spec {path!r}: {error.strerror}.") from error
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: not valid YAML: {error}") from error
    return _Reader(path).spec(root)


class _Reader:
    def __init__(self, path: str):
        self.path = path

    def error(self, node: yaml.Node, message: str) -> SpecError:
        return SpecError(f"{self.path}, line {node.start_mark.line + 1}: {message}")

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping (key: value lines).")
        return {key.value: (key, value) for key, value in node.value}

    def value(self, node: yaml.Node) -> Any:
        return yaml.safe_load(yaml.serialize(node))

    def sequence(self, node: yaml.Node) -> list[tuple[yaml.Node, Any]]:
        if isinstance(node, yaml.SequenceNode):
            return [(item, self.value(item)) for item in node.value]
        return [(node, self.value(node))]  # a single value stands for a list of one

    def integer(self, node: yaml.Node, what: str, minimum: int) -> int:
        value = self.value(node)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(node, f"{what} must be an integer >= {minimum}, got {value!r}.")
        return value

    def argument(self, method: str, name: str, value: Any, node: yaml.Node, where: str) -> None:
        """Refuse an argument that ``method``'s algorithm does not take, one the grid sets, or (where the
        algorithm can tell from its signature) a value of the wrong kind."""
        if name in RUN_ARGUMENTS:
            way = GRID_WAYS.get(name)
            raise self.error(
                node, f"{where}: {name!r} is set by the grid for each run, not by the spec" + (f"; {way}." if way else ".")
            )
        try:
            METHOD_REGISTRY[method].check_arguments({name: value}, where=where)
        except ValueError as problem:
            raise self.error(node, str(problem)) from None

    def teacher_argument(self, name: str, node: yaml.Node, where: str) -> None:
        """Refuse a PPO argument of the teacher that PPO does not take, or one the grid sets."""
        if name in TEACHER_RUN_ARGUMENTS:
            way = GRID_WAYS.get(name)
            raise self.error(
                node, f"{where}: {name!r} is set by the grid when it trains a teacher" + (f"; {way}." if way else ".")
            )
        hint = unknown_argument_hint(PPO, name, TEACHER_RUN_ARGUMENTS)
        if hint is not None:
            raise self.error(node, f"{where}: unknown argument {name!r} of the teacher (PPO); {hint}")

    def spec(self, root: yaml.Node | None) -> BenchSpec:
        if root is None:
            raise SpecError(f"{self.path}: the spec is empty.")
        try:
            refuse_duplicate_keys(root, self.path)
        except DuplicateKey as error:
            raise SpecError(str(error)) from None
        top = self.mapping(root, "The spec")
        for name, (key, _) in top.items():
            if name not in TOP_LEVEL_KEYS:
                raise self.error(key, f"unknown key {name!r}; expected one of {TOP_LEVEL_KEYS}.")
        if "envs" not in top:
            raise self.error(root, "the spec names no environments (an 'envs:' mapping).")
        seeds = (
            tuple(self.integer(node, "A seed", 0) for node, _ in self.sequence(top["seeds"][1])) if "seeds" in top else (0,)
        )
        methods = self.choices(top, "methods", METHODS, default=("ppd",))
        students = self.choices(top, "students", STUDENT_SIZES, default=("same",))
        teachers = (
            tuple(self.variant(node, value) for node, value in self.sequence(top["teachers"][1]))
            if "teachers" in top
            else (TeacherVariant(),)
        )
        envs = tuple(self.env(key, value, teachers) for key, value in self.mapping(top["envs"][1], "envs").values())
        if not envs:
            raise self.error(top["envs"][1], "the spec names no environments.")
        for name, values in (("seeds", seeds), ("methods", methods), ("students", students), ("teachers", teachers)):
            if len(set(values)) != len(values):
                raise self.error(top[name][1], f"{name} repeat a value: {list(values)}.")
        sweeps = self.sweeps(top["sweep"][1], methods) if "sweep" in top else {}
        return BenchSpec(self.path, seeds, methods, students, teachers, envs, sweeps)

    def sweeps(self, node: yaml.Node, methods: tuple[str, ...]) -> dict[str, tuple[Setting, ...]]:
        sweeps = {}
        for method, (method_key, method_node) in self.mapping(node, "sweep").items():
            if method not in methods:
                raise self.error(method_key, f"sweep of {method!r}, which is not among the spec's methods {list(methods)}.")
            points = (
                self.sweep_points(method, method_node)
                if isinstance(method_node, yaml.SequenceNode)
                else self.sweep_product(method, method_node)
            )
            if len(set(points)) != len(points):
                raise self.error(method_node, f"the sweep of {method} repeats a point.")
            sweeps[method] = tuple(points)
        return sweeps

    def sweep_axis(self, method: str, name: str, name_key: yaml.Node) -> str:
        """Check an axis name of ``method``'s sweep; return where its values come from, for messages."""
        if not name.isidentifier():
            raise self.error(name_key, f"{name!r} is not an algorithm argument name.")
        if name == "lambda" and method == "ppo":
            raise self.error(name_key, "the ppo baseline has λ = 0 by definition; sweep λ of ppd instead.")
        where = f"the sweep of {method}"
        if name not in SWEEP_SETTINGS:
            self.argument(method, name, None, name_key, where)
        return where

    def sweep_product(self, method: str, node: yaml.Node) -> list[Setting]:
        """``{axis: [values], ...}``: every combination of the axes' values."""
        axes = []
        for name, (name_key, values_node) in self.mapping(node, f"The sweep of {method}").items():
            where = self.sweep_axis(method, name, name_key)
            values = self.sequence(values_node)
            if not values:
                raise self.error(values_node, f"the sweep of {method} gives no values for {name}.")
            for value_node, value in values:
                self.sweep_value(method, name, value, value_node, where)
            if len({repr(value) for _, value in values}) != len(values):
                raise self.error(values_node, f"the sweep of {method} repeats a value of {name}.")
            axes.append([(name, value) for _, value in values])
        return [tuple(sorted(point)) for point in itertools.product(*axes)]

    def sweep_points(self, method: str, node: yaml.SequenceNode) -> list[Setting]:
        """``[{}, {axis: value, ...}, ...]``: the listed points only (``{}``: the method's defaults)."""
        points = []
        for item in node.value:
            point = []
            for name, (name_key, value_node) in self.mapping(item, f"A point of the sweep of {method}").items():
                where = self.sweep_axis(method, name, name_key)
                value = self.value(value_node)
                self.sweep_value(method, name, value, value_node, where)
                point.append((name, value))
            points.append(tuple(sorted(point)))
        if not points:
            raise self.error(node, f"the sweep of {method} lists no points.")
        return points

    def sweep_value(self, method: str, name: str, value: Any, node: yaml.Node, where: str) -> None:
        """Refuse a value of a sweep axis that its setting, or the method's algorithm, does not take."""
        from sb3_distill.schedules import parse

        if name == "preset":
            if value is not None and value not in PRESETS:
                raise self.error(
                    node, f"unknown preset {value!r}; expected one of {sorted(PRESETS)}, or null for the tools' defaults."
                )
        elif name == "lambda":
            try:
                parse(str(value), teacher_return=1.0)
            except ValueError as problem:
                raise self.error(node, str(problem)) from problem
        elif name == "frame_stack":
            self.integer(node, "frame_stack", 1)
        elif name == "recurrent":
            if not isinstance(value, bool):
                raise self.error(node, f"recurrent takes true or false, got {value!r}.")
        else:
            self.argument(method, name, value, node, where)

    def choices(self, top: dict, name: str, allowed: tuple[str, ...], default: tuple[str, ...]) -> tuple[str, ...]:
        if name not in top:
            return default
        chosen = []
        for node, value in self.sequence(top[name][1]):
            if value not in allowed:
                raise self.error(node, f"unknown {name[:-1]} {value!r}; expected one of {allowed}.")
            chosen.append(value)
        return tuple(chosen)

    def variant(self, node: yaml.Node, value: Any) -> TeacherVariant:
        if value == "original":
            return TeacherVariant()
        if isinstance(value, str) and value.startswith("corrupted:"):
            number = value.split(":", 1)[1]
            calibrated = number.endswith("x")
            try:
                amount = float(number.removesuffix("x"))
            except ValueError:
                amount = math.nan
            if calibrated and 0 < amount < 1:
                return TeacherVariant(target_fraction=amount)
            if not calibrated and math.isfinite(amount) and amount > 0:
                return TeacherVariant(amount)
        raise self.error(
            node,
            "a teacher variant is 'original', 'corrupted:SIGMA' with a finite SIGMA > 0, or 'corrupted:FRACTIONx' "
            f"with 0 < FRACTION < 1 (sigma learned so that the copy keeps that fraction of the score), got {value!r}.",
        )

    def env(self, key: yaml.Node, node: yaml.Node, variants: tuple[TeacherVariant, ...]) -> EnvSpec:
        env_id = key.value
        settings = (
            self.mapping(node, f"The settings of {env_id}")
            if not (isinstance(node, yaml.ScalarNode) and node.value == "")
            else {}
        )
        for name, (setting_key, _) in settings.items():
            if name not in ENV_KEYS:
                raise self.error(setting_key, f"unknown setting {name!r} of {env_id}; expected one of {ENV_KEYS}.")
        try:
            suite = check_env_id(env_id)
        except (ValueError, ImportError) as problem:
            raise self.error(key, str(problem)) from problem
        teacher = str(self.value(settings["teacher"][1])) if "teacher" in settings else "train"
        if teacher != "train" and not teacher.startswith("hf://") and not os.path.exists(teacher):
            raise self.error(
                settings["teacher"][1],
                f"the teacher {teacher!r} of {env_id} does not exist; give a path, "
                "an RL Zoo folder, hf://ORG/REPO, or 'train'.",
            )
        if teacher == "train" and "teacher_steps" not in settings:
            raise self.error(key, f"{env_id} trains its teacher ('teacher: train') but gives no teacher_steps.")
        teacher_steps = self.integer(settings["teacher_steps"][1], "teacher_steps", 1) if "teacher_steps" in settings else 0
        if "distill_steps" not in settings:
            raise self.error(key, f"{env_id} gives no distill_steps (environment steps of each distillation run).")
        distill_steps = self.integer(settings["distill_steps"][1], "distill_steps", 1)
        eval_episodes = (
            self.integer(settings["eval_episodes"][1], "eval_episodes", 1)
            if "eval_episodes" in settings
            else suite.eval_episodes
        )
        n_envs = self.integer(settings["n_envs"][1], "n_envs", 1) if "n_envs" in settings else 8
        curve_points = self.integer(settings["curve_points"][1], "curve_points", 1) if "curve_points" in settings else 10
        curve_episodes = (
            self.integer(settings["curve_episodes"][1], "curve_episodes", 1) if "curve_episodes" in settings else 5
        )
        if curve_points > distill_steps:
            raise self.error(
                settings["curve_points"][1], f"curve_points ({curve_points}) exceeds distill_steps ({distill_steps})."
            )
        teacher_params = self.dictionary(settings, "teacher_params")
        if teacher_params:
            for name, (name_key, _) in self.mapping(settings["teacher_params"][1], "teacher_params").items():
                self.teacher_argument(name, name_key, f"teacher_params of {env_id}")
        params = self.dictionary(settings, "params")
        for method, (method_key, method_node) in (
            self.mapping(settings["params"][1], "params") if "params" in settings else {}
        ).items():
            if method not in METHODS:
                raise self.error(method_key, f"params for unknown method {method!r}; expected one of {METHODS}.")
            if not isinstance(params[method], dict):
                raise self.error(method_key, f"params of {method} must be a mapping of algorithm arguments.")
            for name, (name_key, value_node) in self.mapping(method_node, f"params of {method}").items():
                self.argument(method, name, self.value(value_node), name_key, f"params of {method}")
        student_observation = self.student_observation(settings, env_id, suite.name)
        teacher_frame_stack = self.teacher_frame_stack(settings, env_id, teacher, variants)
        return EnvSpec(
            env_id,
            teacher,
            teacher_steps,
            distill_steps,
            eval_episodes,
            n_envs,
            curve_points,
            curve_episodes,
            teacher_params,
            params,
            student_observation,
            teacher_frame_stack,
        )

    def teacher_frame_stack(
        self, settings: dict, env_id: str, teacher: str, variants: tuple[TeacherVariant, ...]
    ) -> int | None:
        """How many observations the given teacher of ``env_id`` stacks (``teacher_frame_stack``), or ``None``."""
        if "teacher_frame_stack" not in settings:
            return None
        node = settings["teacher_frame_stack"][1]
        frames = self.integer(node, "teacher_frame_stack", 1)
        if teacher == "train":
            raise self.error(
                node,
                f"teacher_frame_stack describes a given teacher trained behind VecFrameStack; the teacher the grid "
                f"trains for {env_id} ('teacher: train') reads one observation. Give the teacher's source under "
                "teacher:, or drop teacher_frame_stack.",
            )
        corrupted = [variant.name for variant in variants if variant.sigma > 0]
        if corrupted:
            raise self.error(
                node,
                f"teacher_frame_stack with corrupted teachers ({', '.join(corrupted)}): the grid's corruption takes "
                "a teacher's frame stack only from a folder that records it (an RL Zoo run, a package or corrupt "
                "folder). Give the teacher as such a folder and drop teacher_frame_stack, or list only 'original' "
                "under teachers:.",
            )
        return None if frames == 1 else frames

    def student_observation(self, settings: dict, env_id: str, suite: str) -> tuple[int, ...] | None:
        """The entries the students of ``env_id`` read (``student_observation``), or ``None`` for all of them."""
        if "student_observation" not in settings:
            return None
        node = settings["student_observation"][1]
        if suite in ("atari", "procgen", "minatar"):
            raise self.error(node, f"student_observation selects entries of a flat observation; {env_id} observes images.")
        try:
            return parse_entries(self.value(node))
        except ConfigError as problem:
            raise self.error(node, str(problem)) from problem

    def dictionary(self, settings: dict, name: str) -> dict:
        if name not in settings:
            return {}
        value = self.value(settings[name][1])
        if not isinstance(value, dict):
            raise self.error(settings[name][1], f"{name} must be a mapping, got {value!r}.")
        return value
