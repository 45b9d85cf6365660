"""Atomic file writes: a reader sees the old file or the complete new one, never a part of it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path

TEMPORARY = re.compile(r"\.[0-9a-f]{16}\.tmp")
"""The name a file is written under before its rename: hidden, in the target's folder (one file system),
short whatever the target's name (a 255-byte name stays valid) and one per target name. A write that
fails removes it; one a killed process left behind is replaced by the next write of the same file.
Two processes never write one file at once: each writer here holds its folder's lock or owns the file."""


def temporary_path(path: Path) -> Path:
    """The :data:`TEMPORARY` name of ``path``."""
    return path.with_name(f".{hashlib.sha256(os.fsencode(path.name)).hexdigest()[:16]}.tmp")


def _sync(path: Path) -> None:
    """Flush ``path``'s bytes to the disk, so that the rename never publishes a file the disk lacks."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(path: str | os.PathLike, sync: bool = True):
    """A temporary path beside ``path`` for the caller to write (or link) the new file at; on success it
    is flushed (unless not ``sync``) and renamed over ``path``, on failure removed (``path`` untouched).

    ``sync=False`` for many files that a re-run checks anyway (an export's images): a crash may then
    leave a renamed file whose bytes never reached the disk."""
    path = Path(path)
    tmp = temporary_path(path)
    tmp.unlink(missing_ok=True)  # a killed run's leftover, maybe a hard link to a source file: never written through
    try:
        yield tmp
        if sync:
            _sync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def writing(path: str | os.PathLike, mode: str = "w", sync: bool = True, **open_args):
    """``path`` opened for writing (``open(..., mode, **open_args)``) as a file replaced by :func:`replacing`
    once the block ends without an error."""
    with replacing(path, sync) as tmp, open(tmp, mode, **open_args) as file:
        yield file


def write_bytes(path: str | os.PathLike, data: bytes, sync: bool = True) -> None:
    with replacing(path, sync) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def write_json(path: str | os.PathLike, obj, **dumps_args) -> None:
    """``json.dumps(obj, **dumps_args)`` written as UTF-8 text."""
    write_text(path, json.dumps(obj, **dumps_args))
