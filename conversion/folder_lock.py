"""One writer at a time: an exclusive lock on a folder (``filelock``), with its holder written beside it.

The lock file and its sidecar live in the folder's ``.publish`` state. The sidecar names the holder
(pid, host, start time) so that a second writer can say who it is waiting for; it is removed when
the lock is released (a killed holder's stale sidecar is harmless: the OS releases the lock itself).
Inside one process the lock is re-entrant, so a command may hold it around several steps.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

from filelock import FileLock, Timeout

from conversion import atomic_files, local_paths, regular_files

STATE_DIR = ".publish"
_held: set[str] = set()


class FolderBusy(RuntimeError):
    """Another process holds the folder's lock."""


def _paths(folder: Path, name: str) -> tuple[Path, Path]:
    state = folder / STATE_DIR
    return state / f"{name}.lock", state / f"{name}.lock.holder"


def holder(folder: Path, name: str = "publish") -> str:
    """Who holds the lock, as its sidecar says."""
    try:
        return regular_files.read_text(_paths(folder, name)[1]).strip()
    except OSError:
        return "holder not recorded yet"


@contextlib.contextmanager
def exclusive(folder: str | os.PathLike, name: str = "publish", wait: bool = False, log=print, writer: str = "publish"):
    """Hold ``folder``'s lock ``name``; if another process (a ``writer``) holds it, fail at once or (``wait``) wait."""
    folder = Path(folder).resolve()
    local_paths.state_folder(folder / STATE_DIR)
    lock_path, sidecar = _paths(folder, name)
    if str(lock_path) in _held:
        yield
        return
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        what = f"{folder} is being written by another {writer} ({holder(folder, name)}, lock {lock_path})"
        if not wait:
            raise FolderBusy(f"{what}: wait for it to finish, or pass --wait-lock to wait") from None
        log(f"{what}: waiting")
        lock.acquire()
    _held.add(str(lock_path))
    try:
        atomic_files.write_text(sidecar, f"pid {os.getpid()} on {socket.gethostname()}, since "
                                         f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}\n")
        yield
    finally:
        sidecar.unlink(missing_ok=True)
        _held.discard(str(lock_path))
        lock.release()
