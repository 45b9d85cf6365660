"""One rule for every path a user gives (command-line arguments, the builder's ``data_dir`` and ``cache_dir``).

A path is a plain local path: ``~`` and ``~user`` are expanded, the result made absolute. Anything
that fsspec (which datasets hands ``cache_dir`` and output folders to) would read as something other
than a local file is refused before any work: a ``::`` chain (``victim::copy`` would write into
``victim``) or a ``scheme://`` URL. :func:`refuse_nested` refuses a source inside an output folder
or an output folder inside a source, so that cleaning one never touches the other.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


class BadPath(ValueError):
    """A path argument that is not a plain local path, or that overlaps another one."""


def local_path(value: str | os.PathLike, what: str = "path") -> Path:
    """``value`` as an absolute local :class:`Path` (``~`` expanded), or :class:`BadPath` naming ``what``."""
    text = os.fspath(value)
    if not isinstance(text, str):
        text = os.fsdecode(text)
    if not text.strip():
        raise BadPath(f"{what}: empty path")
    if "\0" in text:
        raise BadPath(f"{what} {text!r}: a path cannot hold a NUL character")
    if "::" in text:
        raise BadPath(f"{what} {text!r}: '::' is not allowed in a path (fsspec reads it as a chain of URLs "
                      f"and would write elsewhere); rename the folder")
    if _URL.match(text):
        raise BadPath(f"{what} {text!r}: a URL; give a local folder")
    return Path(os.path.abspath(os.path.expanduser(text)))


def _inside(inner: Path, outer: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies below it, as written or with links resolved."""
    for resolve in (os.path.abspath, os.path.realpath):
        a, b = Path(resolve(inner)), Path(resolve(outer))
        if a == b or b in a.parents:
            return True
    return False


def output_folder(path: Path, what: str) -> Path:
    """``path`` unless it exists as something other than a folder (:class:`BadPath` naming it)."""
    if os.path.lexists(path) and not path.is_dir():
        raise BadPath(f"{what} {path} exists and is not a folder")
    return path


def state_folder(path: Path) -> Path:
    """``path``, a run's own state folder, unless it exists as a link or as something other than a
    folder: a run empties parts of it, which must never happen through a link to elsewhere."""
    if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
        raise BadPath(f"{path} is a link or not a folder: it is where a run keeps (and cleans) its own state; "
                      "remove it or choose another output folder")
    return path


def refuse_nested(source: Path, source_what: str, out: Path, out_what: str) -> None:
    """:class:`BadPath` naming both if ``source`` lies inside ``out`` or ``out`` inside ``source``
    (as written or with links resolved): a run that cleans ``out`` must never reach the source."""
    if os.path.realpath(source) == os.path.realpath(out):
        raise BadPath(f"{source_what} and {out_what} are the same folder ({source}): "
                      f"give an {out_what} outside the source")
    if _inside(source, out):
        raise BadPath(f"{source_what} {source} lies inside {out_what} {out}: give an {out_what} outside the source")
    if _inside(out, source):
        raise BadPath(f"{out_what} {out} lies inside {source_what} {source}: give an {out_what} outside the source")
