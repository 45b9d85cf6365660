"""Check downloaded GenImage zip parts against the official md5 list (``dictionaries/generators.json``).

Parts are found anywhere below the folder given (flat, or one folder per generator). Files are
hashed in parallel threads with large reads (``hashlib`` releases the GIL while hashing), so a
fast disk is read at its own speed. Each generator gets missing, corrupt, extra and unreadable parts
listed: a FIFO, device or socket named like a part is reported and never read (it could block the
check forever), and a dangling link or a file that cannot be read is reported without hiding the
other parts.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from conversion.contract import tables

READ_BYTES = 16 * 1024 * 1024
PART_NAME = re.compile(r"\.(z\d\d|zip)$", re.IGNORECASE)
"""Names that look like parts of a split zip (``.z01`` ... ``.zip``)."""

OK, MISSING, CORRUPT, EXTRA, UNREADABLE = "ok", "missing", "corrupt", "extra", "unreadable"
PROBLEMS = (MISSING, CORRUPT, EXTRA, UNREADABLE)
_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"))


class Unreadable(OSError):
    """A part that is not a regular file or cannot be read; the message says why."""


def _not_regular(mode: int) -> str:
    kind = next((text for test, text in _KINDS if test(mode)), "not a regular file")
    return f"{kind}, not a regular file: not read"


def regular_size(path: Path) -> int:
    """The size of ``path``; :class:`Unreadable` for a dangling link, a FIFO or anything else not a file."""
    try:
        st = path.stat()
    except OSError as err:
        dangling = path.is_symlink() and isinstance(err, FileNotFoundError)
        why = f"dangling link to {os.readlink(path)}" if dangling else f"cannot stat: {err.strerror or err}"
        raise Unreadable(why) from None
    if not stat.S_ISREG(st.st_mode):
        raise Unreadable(_not_regular(st.st_mode))
    return st.st_size


@dataclass(frozen=True)
class PartCheck:
    generator: str
    name: str
    status: str
    path: Path | None = None
    detail: str = ""


def expected_parts() -> dict[str, tuple[str, str]]:
    """Part file name -> (generator key, md5). The official list names one sdv5 part twice (same md5)."""
    parts = {}
    for key, generator in tables.generators().items():
        for name, md5 in generator.zip_parts:
            parts[name] = (key, md5)
    return parts


def _generator_of_name(name: str) -> str | None:
    stem = name.rsplit(".", 1)[0].lower()
    return next((k for k, g in tables.generators().items() if g.inner_folder.lower() == stem), None)


def find_part_files(root: Path) -> list[Path]:
    """Every file below ``root`` that is an official part or looks like a zip part, sorted."""
    expected = expected_parts()
    found = []
    for folder, _dirs, files in os.walk(root):
        found += [Path(folder) / f for f in files if f in expected or PART_NAME.search(f)]
    return sorted(found)


def md5_of(path: Path, progress: tqdm | None = None) -> str:
    """md5 of the regular file ``path``; :class:`Unreadable` if it cannot be read or is no regular file.

    Opened without blocking and checked on the open file, so a FIFO swapped in meanwhile is not read.
    """
    digest = hashlib.md5()
    buffer = bytearray(READ_BYTES)
    view = memoryview(buffer)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as err:
        raise Unreadable(f"cannot open: {err.strerror or err}") from None
    with open(fd, "rb", buffering=0) as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise Unreadable(_not_regular(mode))
        while True:
            n = f.readinto(buffer)
            if not n:
                break
            digest.update(view[:n])
            if progress is not None:
                progress.update(n)
    return digest.hexdigest()


def verify(root: str | os.PathLike, generators: list[str] | None = None, jobs: int = 4,
           progress: bool = True) -> list[PartCheck]:
    """One :class:`PartCheck` per expected part of ``generators`` and per extra part file.

    ``generators`` defaults to every generator with at least one part file present.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    expected = expected_parts()
    files = find_part_files(root)
    present = {expected[p.name][0] if p.name in expected else _generator_of_name(p.name) for p in files}
    if generators is None:
        generators = sorted(k for k in tables.generators() if k in present)
        if not generators:
            raise FileNotFoundError(f"no GenImage zip part (e.g. {next(iter(expected))}) found under {root}")
    unknown = sorted(set(generators) - set(tables.generators()))
    if unknown:
        raise ValueError(f"unknown generator(s) {', '.join(unknown)}; known: {', '.join(tables.generators())}")

    checks: list[PartCheck] = []
    to_hash: list[tuple[str, str, Path]] = []
    seen: set[str] = set()
    for path in files:
        key, md5 = expected.get(path.name, (_generator_of_name(path.name), None))
        if key is not None and key not in generators:
            continue
        if md5 is None or path.name in seen:
            detail = "second copy of an official part" if md5 else "not in the official list"
            checks.append(PartCheck(key or "unknown", path.name, EXTRA, path, detail))
            continue
        seen.add(path.name)
        to_hash.append((key, md5, path))
    for name, (key, _md5) in expected.items():
        if key in generators and name not in seen:
            checks.append(PartCheck(key, name, MISSING))

    readable, total = [], 0
    for key, md5, path in to_hash:
        try:
            total += regular_size(path)
            readable.append((key, md5, path))
        except Unreadable as err:
            checks.append(PartCheck(key, path.name, UNREADABLE, path, str(err)))

    def check(job: tuple[str, str, Path]) -> PartCheck:
        key, md5, path = job
        try:
            digest = md5_of(path, bar)
        except OSError as err:  # one unreadable part never hides the others
            return PartCheck(key, path.name, UNREADABLE, path, str(err) if isinstance(err, Unreadable) else
                             f"read error: {err.strerror or err}")
        if digest == md5:
            return PartCheck(key, path.name, OK, path)
        return PartCheck(key, path.name, CORRUPT, path, f"md5 {digest}, expected {md5}")

    with tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="md5", disable=not progress) as bar:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            checks += pool.map(check, readable)
    return sorted(checks, key=lambda c: (c.generator, c.name, str(c.path)))


def format_checks(checks: list[PartCheck]) -> str:
    """Per generator: parts ok, then every missing, corrupt or extra part."""
    lines = []
    for key in sorted({c.generator for c in checks}):
        mine = [c for c in checks if c.generator == key]
        counts = {s: sum(c.status == s for c in mine) for s in (OK, *PROBLEMS)}
        verdict = "OK" if not any(counts[s] for s in PROBLEMS) else "PROBLEMS"
        if not counts[UNREADABLE]:  # shown only when there is one
            del counts[UNREADABLE]
        lines.append(f"{key}: {verdict} - " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        for c in mine:
            if c.status in PROBLEMS:
                where = f" ({c.path})" if c.path else ""
                lines.append(f"  {c.status}: {c.name}{where}" + (f": {c.detail}" if c.detail else ""))
    return "\n".join(lines)
