"""A run's folder: created and checked for writing before any training starts, and owned by one process.

Two processes writing one run folder would destroy each other's work: the second would take the first's
checkpoints for an earlier run's and delete them. A run therefore holds an exclusive lock on
``run_dir/.lock`` while it writes. The lock is the operating system's (``flock``), so a process that is
killed releases it and leaves nothing stuck.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from types import TracebackType

try:
    import fcntl
except ImportError:  # Windows: no flock; runs there are not protected against a second writer
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = ".lock"


class RunFolderBusy(RuntimeError):
    """Another process owns the run folder."""


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


class RunFolder:
    """The folder of one run, created if needed and locked for this process until :meth:`release`.

    Use as a context manager. :meth:`discard` removes the folder again if this process created it and
    an error came before anything was trained, so that a refused run leaves no empty folder behind.

    :param path: the run folder
    :raises RunFolderBusy: another process holds the folder's lock
    :raises ValueError: the folder cannot be written to
    """

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        self.created = not os.path.exists(self.path)
        prepare_output_dir(self.path)
        self._lock = open(os.path.join(self.path, LOCK_FILE), "a+")  # held until release()
        if fcntl is not None:
            try:
                fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lock.seek(0)
                owner = self._lock.read().strip() or "another process"
                self._lock.close()
                raise RunFolderBusy(
                    f"{self.path} is in use by {owner}: a run folder belongs to one run at a time. Wait for that run "
                    "to end, or give this run another folder (--out)."
                ) from None
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f"process {os.getpid()}")
        self._lock.flush()

    def release(self) -> None:
        if not self._lock.closed:
            self._lock.close()  # closing the file releases the flock

    def discard(self) -> None:
        """Release, and remove the folder if this process created it (nothing in it is worth keeping)."""
        self.release()
        if self.created:
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None) -> None:
        self.release()
