"""A run's folder: created and checked for writing before any training starts."""

from __future__ import annotations

import os
import tempfile


def prepare_output_dir(path: str) -> str:
    """Create ``path`` if needed and make sure files can be written there; return its absolute path."""
    path = os.path.abspath(path)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as error:
        raise ValueError(f"Output folder {path!r} cannot be written to ({error.strerror}). Choose another --out.") from error
    return path
