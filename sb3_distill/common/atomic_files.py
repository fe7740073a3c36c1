"""Files that are either complete or absent: written under a temporary name in the same folder, synced to
disk, then renamed over the final name (a rename within a folder is atomic on POSIX and Windows).

Reading them back, a file that is present but damaged (truncated or edited by hand, copied without
care) raises :class:`DamagedRecord` naming the file, never a bare parser error and never a partial value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
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


class DamagedRecord(ValueError):
    """A record file that exists but cannot be what it should be; the message names the file (and line)."""


def read_json_record(path: str, required: Iterable[str] = ()) -> dict[str, Any]:
    """The JSON object in ``path``, with every key of ``required``.

    :raises FileNotFoundError: there is no such file
    :raises DamagedRecord: the file is truncated, not JSON, not one object, or lacks a required key
    """
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except UnicodeDecodeError as error:
        raise DamagedRecord(f"{path} is damaged: not UTF-8 text ({error.reason} at byte {error.start}).") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        ends_early = error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string")
        cut = " (it ends early: a write cut short?)" if ends_early else ""
        raise DamagedRecord(f"{path} is damaged: line {error.lineno}: {error.msg}{cut}.") from None
    if not isinstance(record, dict):
        raise DamagedRecord(f"{path} is damaged: expected a JSON object, got {type(record).__name__}.")
    missing = [key for key in required if key not in record]
    if missing:
        raise DamagedRecord(f"{path} is damaged: it lacks {', '.join(map(repr, missing))}.")
    return record


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
