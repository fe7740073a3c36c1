"""Default hyperparameters of the command-line tools, and ``key=value`` overrides.

Distillation defaults follow the paper's appendix A.3 (PPD: n_steps=64, gamma=0.999, GAE 0.9,
ent_coef=0; student- and teacher-distill: n_steps=5, one gradient step per rollout), with the minibatch
scaled to the 8 environments that suit a 2-core machine (the paper used 18). ``--preset paper`` gives
the paper's values exactly.

PPD differs from the paper in one place: 10 epochs over each rollout, not 4 (issue 6). Early in
training the distillation term's progress is bound by the number of optimizer steps it gets, and with 4
epochs PPD takes one step per 64 samples where student-distill takes one per 40, so it fell behind on
MuJoCo in the first 100k steps. λ stays 1: a larger λ speeds the start too, but the paper finds (§8.7)
that it costs final performance, and it ties the student closer to an imperfect teacher.
docs/results/ppd-early/README.md has the measurements.
"""

from __future__ import annotations

import ast
from typing import Any

from sb3_distill import PPD, StudentDistill, TeacherDistill
from sb3_distill.common.presets import presets_of

METHODS = {"ppd": PPD, "student-distill": StudentDistill, "teacher-distill": TeacherDistill}

DISTILL_DEFAULTS: dict[str, dict[str, Any]] = {
    "ppd": dict(n_steps=64, batch_size=256, n_epochs=10, gamma=0.999, gae_lambda=0.9, learning_rate=3e-4, ent_coef=0.0),
    "student-distill": dict(n_steps=5, learning_rate=3e-4, ent_coef=0.0),
    "teacher-distill": dict(n_steps=5, learning_rate=3e-4, ent_coef=0.0),
}

#: ``--preset``: the names of the presets every method accepts (the algorithms' constructors define them).
PRESETS = sorted(set.intersection(*(set(presets_of(algorithm)) for algorithm in METHODS.values())))


def method_params(method: str, preset: str | None) -> dict[str, Any]:
    """The algorithm arguments ``method`` starts from: ``preset``'s, without λ and the KL direction
    (``--lambda`` and ``--kl-mode`` set those), or the tools' defaults above."""
    if preset is None:
        return dict(DISTILL_DEFAULTS[method])
    settings = presets_of(METHODS[method])[preset]
    return {key: value for key, value in settings.items() if key not in ("distill_lambda", "kl_mode")}


#: PPO for teachers: SB3's defaults unless overridden with --param.
TEACHER_DEFAULTS: dict[str, Any] = {}


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """``["n_steps=64", "gamma=0.99"]`` -> ``{"n_steps": 64, "gamma": 0.99}``; strings stay strings."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"--param expects key=value with a Python identifier as key, got {item!r}.")
        try:
            params[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            params[key] = raw
    return params


def parse_net_arch(text: str | None) -> list[int] | None:
    """``"64,64"`` -> ``[64, 64]``."""
    if text is None:
        return None
    try:
        layers = [int(width) for width in text.split(",") if width.strip()]
    except ValueError:
        raise ValueError(f"--net-arch expects comma-separated layer widths such as 64,64, got {text!r}.") from None
    if not layers or min(layers) <= 0:
        raise ValueError(f"--net-arch expects positive layer widths such as 64,64, got {text!r}.")
    return layers
