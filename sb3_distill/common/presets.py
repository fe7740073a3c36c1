"""Named settings of the distillation algorithms: ``PPD("MlpPolicy", env, preset="paper")``.

A preset fills in the constructor arguments the caller leaves out; an argument given explicitly always
wins, even when its value equals the signature's default. Without a preset, the signature's defaults
apply (for PPD, SB3's PPO defaults), so code written for the reference library behaves as before.

``paper`` is the setting of the paper's experiments (appendix A.3 with Table 3's PPO values). The paper
ran 18 environments: its ``batch_size`` of 512 gives about 2 minibatches per PPD rollout there, and 1
on 8 environments. Its one exception, γ = 0.995 for Hopper and Swimmer, is per environment and so not
part of the preset.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

#: PPD in the paper: PPO's settings of the teachers, with n_steps = 64, γ = 0.999 and no entropy bonus.
PAPER_PPD: dict[str, Any] = dict(
    n_steps=64,
    batch_size=512,
    n_epochs=4,
    gamma=0.999,
    gae_lambda=0.9,
    learning_rate=3e-4,
    ent_coef=0.0,
    clip_range=0.2,
    vf_coef=0.5,
    max_grad_norm=0.5,
    distill_lambda=1.0,
    kl_mode="forward",
)
#: Student- and teacher-distill in the paper: one gradient step on each rollout of 5 steps per environment.
PAPER_ONLINE: dict[str, Any] = dict(
    n_steps=5,
    learning_rate=3e-4,
    ent_coef=0.0,
    vf_coef=0.5,
    max_grad_norm=0.5,
    distill_lambda=1.0,
    kl_mode="forward",
)

Init = TypeVar("Init", bound=Callable[..., None])


def accepts_presets(presets: Mapping[str, Mapping[str, Any]]) -> Callable[[Init], Init]:
    """Decorate an ``__init__`` with a ``preset`` argument: the preset's values fill in the arguments not given."""

    def decorate(init: Init) -> Init:
        signature = inspect.signature(init)
        unknown = {name for preset in presets.values() for name in preset} - set(signature.parameters)
        if unknown:  # a mistake in this module, caught at import
            raise TypeError(f"Presets of {init.__qualname__} name arguments it does not take: {sorted(unknown)}.")

        @functools.wraps(init)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
            name = kwargs.get("preset")
            if name is not None:
                if name not in presets:
                    raise ValueError(f"Unknown preset {name!r}; expected one of {sorted(presets)} (or None for the defaults).")
                given = signature.bind_partial(self, *args, **kwargs).arguments
                kwargs.update({key: value for key, value in presets[name].items() if key not in given})
            init(self, *args, **kwargs)

        wrapper.presets = presets  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def presets_of(algorithm: type) -> Mapping[str, Mapping[str, Any]]:
    """The presets ``algorithm``'s constructor accepts, by name (empty if it takes none)."""
    return getattr(algorithm.__init__, "presets", {})  # type: ignore[misc]
