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

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sb3_distill.common.distillation_algorithm import DistillationAlgorithm
from sb3_distill.common.presets import presets_of
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

    def params(self, preset: str | None) -> dict[str, Any]:
        """The algorithm arguments a run starts from: ``preset``'s, without λ and the KL direction (the run
        sets those), or the tools' defaults."""
        if preset is None:
            return dict(self.defaults)
        if preset not in self.presets:
            raise ValueError(f"Unknown preset {preset!r} for {self.name}; expected one of {sorted(self.presets)}, or None.")
        return {key: value for key, value in self.presets[preset].items() if key not in ("distill_lambda", "kl_mode")}


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
