"""Files that are either complete or absent: written under a temporary name in the same folder, synced to
disk, then renamed over the final name (a rename within a folder is atomic on POSIX and Windows)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``path``, on failure it is removed.

    The temporary name keeps ``path``'s suffix, so writers that add a missing ``.zip`` leave it as is.
    """
    folder, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(folder, f".tmp-{os.getpid()}-{name}")
    try:
        yield temporary
        sync_file(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_json_atomically(path: str, data: dict[str, Any]) -> None:
    with atomic_path(path) as temporary, open(temporary, "w") as file:
        json.dump(data, file, indent=2)


def sync_file(path: str) -> None:
    """Flush ``path``'s contents to disk, so that a rename after it never publishes a file still in the cache."""
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def sync_folder(path: str) -> None:
    """Flush a folder's entries (names created or renamed in it) to disk, where the platform allows it."""
    if os.name != "posix":
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
