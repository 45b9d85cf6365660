"""Which files of a raw tree still hold the bytes a build read, though their change time moved.

Writing a file sets its change time (ctime), which is why the cache key holds it: a repair that
keeps size and modification time (``cp -p``, ``unzip -o``, ``rsync -t``) is seen. But a new hard
link, ``chmod`` or ``chown`` set it too, without touching a byte. So while a build reads a file it
notes the file's content digest; when a later scan finds the same size and modification time but
another ctime (or inode), it compares the file's digest with the noted one: equal, the file keeps
the identity (ctime, inode) it was built with, so the cache key does not change; different, it
takes its new one.

The notes live outside the tree and outside any build cache, so that every build (whatever its
``cache_dir``) and ``publish`` judge a tree alike: one folder per real generator folder under
:func:`store_root`, holding ``store.json`` and the ``read-*.json`` notes of builds not yet merged
into it. Both are JSON, written atomically; ``store.json`` holds only the files listed by the last
scan, and the least recently used of more than :data:`MAX_FOLDERS` folders are removed. A store
that cannot be read or written costs rebuilds, never a wrong cache: the change time decides then.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import uuid
from pathlib import Path
from typing import NamedTuple

from conversion import atomic_files

logger = logging.getLogger(__name__)

ROOT_VARIABLE = "GENIMAGE_CL_DIGESTS"
"""Environment variable naming the store's folder (default: ``$XDG_CACHE_HOME/genimage-cl/digests``)."""
STORE_FILE = "store.json"
READ_PREFIX = "read-"
LOCK_FILE = "store.lock"
MAX_FOLDERS = 32
"""Generator folders whose notes are kept; more are removed, least recently scanned first."""
LOCK_TIMEOUT = 600
"""Seconds to wait for another process's short update of the same store (it never reads images under the lock)."""
_FORMAT = 1


class Record(NamedTuple):
    """What a build read: the file's size and modification time, the identity it was built with, the
    latest (ctime, inode) known to hold the same bytes, and the digest of those bytes."""

    size: int
    mtime_ns: int
    built_ctime_ns: int
    built_inode: int
    seen_ctime_ns: int
    seen_inode: int
    digest: str

    @property
    def identity(self) -> tuple[int, int]:
        return self.built_ctime_ns, self.built_inode


class State(NamedTuple):
    """A listed file: where it is, and its size, modification time, change time and inode (:func:`stat_fingerprint`)."""

    path: str
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int


def stat_fingerprint(st: os.stat_result) -> tuple[int, int, int, int]:
    """(size, mtime_ns, ctime_ns, inode): what a source's fingerprint holds of a file, so that a repair keeping
    its size and modification time is seen (the change time and inode move whenever a file is written)."""
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def store_root() -> Path | None:
    """Where the notes live; None (no notes: the change time decides) without a home folder to hold them."""
    configured = os.environ.get(ROOT_VARIABLE) or os.environ.get("XDG_CACHE_HOME")
    if configured:
        root = Path(configured).expanduser().absolute()
        return root if os.environ.get(ROOT_VARIABLE) else root / "genimage-cl" / "digests"
    home = os.path.expanduser("~")
    return None if home.startswith("~") else Path(home) / ".cache" / "genimage-cl" / "digests"


def store_folder(real_generator_folder: str) -> Path | None:
    root = store_root()
    return root and root / hashlib.sha256(real_generator_folder.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _records(path: Path) -> dict[str, Record] | None:
    """The records of one JSON file: none if it is missing, None if it is malformed (logged: it only costs
    rebuilds, and the store is rewritten)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["format"] != _FORMAT:
            return None
        return {name: Record(*(int(v) for v in values[:6]), str(values[6])) for name, values in data["files"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError) as err:
        logger.warning(f"ignored the content digests in {path} ({type(err).__name__}: {err})")
        return None


def _write(path: Path, records: dict[str, Record]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_files.write_json(path, {"format": _FORMAT, "files": {k: list(v) for k, v in records.items()}})


def _lock(folder: Path):
    from filelock import FileLock

    folder.mkdir(parents=True, exist_ok=True)
    return FileLock(str(folder / LOCK_FILE), timeout=LOCK_TIMEOUT)


def _notes(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{READ_PREFIX}*.json"))


def _merged(folder: Path, notes: list[Path]) -> tuple[dict[str, Record] | None, dict[str, Record]]:
    """The store's records (None if malformed), and those records updated by the builds' ``notes``."""
    stored = _records(folder / STORE_FILE)
    records = dict(stored or {})
    for note in notes:
        records.update(_records(note) or {})
    return stored, records


def identities(real_generator_folder: str, states: dict[str, State], read) -> dict[str, tuple[int, int]]:
    """{name: (ctime, inode)} for the files of ``states`` ({name: State}, every file of the generator
    folder a build may read) that hold the bytes a build read with another identity; ``read(path)``
    gives a file's bytes (raising if it cannot). Merges the builds' notes, forgets files no longer listed.

    Files are read for their digest outside the store's lock: other scans and builds wait for short
    updates only.
    """
    folder = store_folder(real_generator_folder)
    if folder is None or not folder.is_dir():
        return {}
    try:
        with _lock(folder):
            records = _merged(folder, _notes(folder))[1]
        digests = {name: _digest(states[name].path, read) for name in _to_compare(records, states)}
        with _lock(folder):
            os.utime(folder)  # scanned now: kept before the notes of folders scanned longer ago
            return _verified(folder, states, digests, read)
    except OSError as err:
        logger.warning(f"content digests in {folder} not used ({err}): files whose change time moved are rebuilt")
        return {}


def _to_compare(records: dict[str, Record], states: dict[str, State]) -> list[str]:
    """Names of the files whose bytes must be compared with their record: same size and modification
    time, but a (ctime, inode) the record does not know."""
    return [name for name, state in states.items() if (record := records.get(name)) is not None
            and (record.size, record.mtime_ns) == (state.size, state.mtime_ns)
            and (state.ctime_ns, state.inode) not in (record.identity, (record.seen_ctime_ns, record.seen_inode))]


def _verified(folder: Path, states: dict[str, State], digests: dict[str, str | None],
              read) -> dict[str, tuple[int, int]]:
    """Under the lock: the kept identities, and the store rewritten with what this scan found."""
    notes = _notes(folder)
    stored, records = _merged(folder, notes)
    compare = set(_to_compare(records, states))
    kept, found = {}, {}
    for name, state in states.items():
        record = records.get(name)
        if record is None or (record.size, record.mtime_ns) != (state.size, state.mtime_ns):
            continue
        if name in compare:
            digest_now = digests[name] if name in digests else _digest(state.path, read)
            if digest_now != record.digest:
                continue
            record = record._replace(seen_ctime_ns=state.ctime_ns, seen_inode=state.inode)
        kept[name] = record
        if record.identity != (state.ctime_ns, state.inode):
            found[name] = record.identity
    if kept != stored or notes:
        _write(folder / STORE_FILE, kept)
        for note in notes:
            note.unlink(missing_ok=True)
        _forget_old_folders(folder)
    return found


def _digest(path: str, read) -> str | None:
    """The digest of the file's bytes now; None if it cannot be read (then it is not the file a build read)."""
    try:
        return digest(read(path))
    except Exception as err:  # whatever one file raises: it is rebuilt, and the build says why
        logger.debug(f"{path}: no digest ({err})")
        return None


# the last two: temporaries of atomic_files and of earlier versions
_OWN_FILE = re.compile(rf"({re.escape(STORE_FILE)}|{re.escape(LOCK_FILE)}|{READ_PREFIX}[0-9a-f]{{32}}\.json"
                       rf"|{atomic_files.TEMPORARY.pattern}|\.[0-9a-f]{{32}}\.tmp)")
_OWN_FOLDER = re.compile(r"[0-9a-f]{32}")


def _forget_old_folders(current: Path) -> None:
    """Remove the notes of the least recently scanned generator folders beyond :data:`MAX_FOLDERS`; a
    folder holding anything this module did not write is left alone."""

    def scanned(folder: Path) -> int:
        with contextlib.suppress(OSError):
            return folder.stat().st_mtime_ns
        return 0

    folders = [f for f in current.parent.iterdir() if _OWN_FOLDER.fullmatch(f.name) and f.is_dir() and f != current]
    for old in sorted(folders, key=scanned, reverse=True)[MAX_FOLDERS - 1:]:
        with contextlib.suppress(OSError):
            names = os.listdir(old)
            if all(_OWN_FILE.fullmatch(name) for name in names):
                for name in names:
                    (old / name).unlink()
                old.rmdir()


class Recorder:
    """Notes the digests of the files one build job reads, per generator folder; :meth:`save` writes them
    as one ``read-*.json`` note each (no lock needed: a note is never rewritten)."""

    def __init__(self):
        self.records: dict[str, dict[str, Record]] = {}

    def add(self, real_generator_folder: str, name: str, state: State, identity: tuple[int, int], stat, data) -> None:
        """Note ``data``, read from ``state.path`` whose stat at the read was ``stat``, if the file was then
        as listed (else the build's cache key describes another version of it: nothing to note)."""
        if stat_fingerprint(stat) != state[1:]:
            return
        self.records.setdefault(real_generator_folder, {})[name] = Record(
            state.size, state.mtime_ns, *identity, state.ctime_ns, state.inode, digest(data))

    def save(self) -> None:
        for real_folder, records in self.records.items():
            folder = store_folder(real_folder)
            try:
                if folder is None:
                    raise OSError("no home folder to keep them in")
                _write(folder / f"{READ_PREFIX}{uuid.uuid4().hex}.json", records)
            except OSError as err:
                _warn_once(f"content digests not saved in {folder or ROOT_VARIABLE} ({err}): a later change "
                           "of metadata only (hard link, chmod) will rebuild the files read")
        self.records = {}


@functools.cache
def _warn_once(message: str) -> None:
    logger.warning(message)
