"""Small teachers that ship with the package, trained with ``sb3-distill train-teacher`` (see each folder's config.json)."""

from __future__ import annotations

import os

DEFAULT_ENV = "CartPole-v1"


def bundled_teacher_path(env_id: str = DEFAULT_ENV) -> str:
    """The path of the bundled teacher for ``env_id``."""
    path = os.path.join(os.path.dirname(__file__), env_id, f"{env_id}.zip")
    if not os.path.isfile(path):
        available = sorted(name for name in os.listdir(os.path.dirname(__file__)) if not name.startswith(("_", ".")))
        raise ValueError(f"No bundled teacher for {env_id!r}; bundled: {available}.")
    return path
