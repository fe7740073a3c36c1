"""A spec expanded into runs, each with its own folder under the grid's output folder.

Teachers come first (trained, or taken from their source; corrupted copies made from them, of a given
sigma or of the sigma found to keep a target fraction of the teacher's score), then one
distillation run per environment x teacher variant x method x student size x seed. Teacher seed i is
distilled with student seed i, as in the paper (every teacher seed with every method and size). The
``ppo`` baseline learns without a teacher, once per size and seed; its size is relative to the teacher.
Folder names depend only on the run's coordinates, so a restarted grid finds the runs that finished.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from sb3_distill.bench.spec import BenchSpec, EnvSpec, Setting, TeacherVariant
from sb3_distill.envs import env_slug


@dataclass(frozen=True)
class TeacherJob:
    """Train (or fetch) the teacher of one environment and seed, or corrupt it into a variant."""

    env: EnvSpec
    seed: int
    variant: TeacherVariant
    folder: str
    original_folder: str  # for a corrupted variant: the teacher it is made from

    @property
    def key(self) -> str:
        return os.path.join("teachers", env_slug(self.env.env_id), f"s{self.seed}-{self.variant.name}")


#: Sweep axes that are settings of a run rather than algorithm arguments, and the config fields they set.
RUN_SETTINGS = {"lambda": "distill_lambda", "preset": "preset", "frame_stack": "frame_stack", "recurrent": "recurrent"}


@dataclass(frozen=True)
class DistillJob:
    """One student: an environment, teacher variant, method, size and seed."""

    env: EnvSpec
    method: str
    student: str
    seed: int
    variant: TeacherVariant
    teacher_folder: str
    folder: str
    setting: Setting = ()  # a point of the spec's sweep

    @property
    def label(self) -> str:
        """The method and its sweep setting, e.g. ``ppd lambda=0.5``: how reports name the run's group."""
        return " ".join([self.method, *(f"{name}={value}" for name, value in self.setting)])

    @property
    def key(self) -> str:
        group = "no-teacher" if self.method == "ppo" else self.variant.name
        name = "-".join([self.method, *(f"{name}={value}" for name, value in self.setting), self.student, f"s{self.seed}"])
        return os.path.join("runs", env_slug(self.env.env_id), group, name)

    @property
    def distill_lambda(self) -> str | None:
        """λ of the sweep setting, if it sets one."""
        return next((str(value) for name, value in self.setting if name == "lambda"), None)

    @property
    def preset(self) -> str | None:
        """The preset of the sweep setting, if it sets one."""
        return next((value for name, value in self.setting if name == "preset"), None)

    def params(self) -> dict[str, Any]:
        """The spec's algorithm arguments for the method, with the sweep setting's on top."""
        setting = {name: value for name, value in self.setting if name not in RUN_SETTINGS}
        return {**self.env.params.get(self.method, {}), **setting}

    def settings(self) -> dict[str, Any]:
        """This run's settings of :class:`~sb3_distill.experiment.DistillConfig` that the spec decides beyond
        its environment's: λ and the preset of the sweep point, and the algorithm arguments."""
        run = {RUN_SETTINGS[name]: value for name, value in self.setting if name in RUN_SETTINGS}
        return {**run, "params": self.params()}


@dataclass(frozen=True)
class Plan:
    teachers: tuple[TeacherJob, ...]
    runs: tuple[DistillJob, ...]


def plan(spec: BenchSpec, out: str) -> Plan:
    """Every job of ``spec``, with folders under ``out``."""
    teachers: list[TeacherJob] = []
    runs: list[DistillJob] = []
    for env in spec.envs:
        for seed in spec.seeds:
            original = os.path.join(out, "teachers", env_slug(env.env_id), f"s{seed}-original")
            for variant in spec.teachers:
                folder = os.path.join(out, "teachers", env_slug(env.env_id), f"s{seed}-{variant.name}")
                teachers.append(TeacherJob(env, seed, variant, folder, original))
                for method in spec.methods:
                    if method == "ppo" and variant != spec.teachers[0]:
                        continue  # the no-teacher baseline does not depend on the teacher variant
                    # It learns without the teacher, which only sets its size and the score its records compare
                    # with: the original's, also in a grid of corrupted teachers only.
                    job_variant, job_teacher = (TeacherVariant(), original) if method == "ppo" else (variant, folder)
                    for setting in spec.settings(method):
                        for student in spec.students:
                            job = DistillJob(env, method, student, seed, job_variant, job_teacher, "", setting)
                            runs.append(
                                DistillJob(
                                    env, method, student, seed, job_variant, job_teacher, os.path.join(out, job.key), setting
                                )
                            )
            if TeacherVariant() not in spec.teachers:  # corrupted variants are made from the original
                teachers.insert(0, TeacherJob(env, seed, TeacherVariant(), original, original))
    # originals before the corrupted copies made from them (calibrated copies, sigma = inf, last)
    teachers.sort(key=lambda job: job.variant.sigma)
    return Plan(tuple(teachers), tuple(runs))
