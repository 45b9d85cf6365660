"""Open only regular files: a FIFO named like a data file would block its reader forever, a link
could lead out of the folder being read, a device could be read without end."""

from __future__ import annotations

import errno
import os
import stat

KINDS = {stat.S_IFLNK: "a link", stat.S_IFDIR: "a folder", stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket",
         stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


class NotRegularFile(OSError):
    """A path a reader must not open: a link, FIFO, device, socket or folder where a file should be."""


def irregular(mode: int) -> str | None:
    """What an ``lstat`` mode is, e.g. "a FIFO", unless it is a regular file (None)."""
    return None if stat.S_ISREG(mode) else KINDS.get(stat.S_IFMT(mode), "not a regular file")


def open_regular(path: str | os.PathLike):
    """``path`` opened for binary reading, never blocking and never through a link; :class:`NotRegularFile`
    naming the path and what it is otherwise."""
    kind = irregular(os.lstat(path).st_mode)
    if kind is None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # replaced meanwhile: still no block
        except OSError as err:
            if err.errno != errno.ELOOP:
                raise
            raise NotRegularFile(f"{path}: a link, not a regular file; not read") from None
        kind = irregular(os.fstat(fd).st_mode)
        if kind is None:
            return os.fdopen(fd, "rb")
        os.close(fd)
    raise NotRegularFile(f"{path}: {kind}, not a regular file; not read")


def read_text(path: str | os.PathLike) -> str:
    """The UTF-8 text of the regular file ``path`` (:func:`open_regular`)."""
    with open_regular(path) as file:
        return file.read().decode("utf-8")
