"""One scan of a raw GenImage tree: list every file once, label it, assign it to a task.

The scan is done once per build (not once per task) and gives both the cache fingerprint of the
source (names, sizes, modification and change times, inodes) and the sorted list of examples to convert.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from conversion import decode, layout, naming, tables

logger = logging.getLogger(__name__)

ORIGINAL = "original"
"""``image_size`` value that keeps every source file's bytes untouched."""


class Item(NamedTuple):
    """One image to convert: a file, or row ``index`` of a release tensor file. Sorted tuples give
    the contract's row order."""

    task: int
    source: int
    label: int
    file_name: str
    generator: str
    path: str
    index: int = 0
    size: int = 0
    """File bytes as listed (0 for tensor rows): the expected cost of converting it."""


class Skip(NamedTuple):
    path: str
    generator: str
    split: str
    source: str
    reason: str


@dataclass
class Listing:
    """Files found per (generator, split, source) folder, as (name, size, mtime_ns, ctime_ns, inode).

    The change time and inode make the fingerprint catch a repair that keeps size and modification
    time (``unzip -o`` of a fixed zip, ``cp -p``, ``rsync -t``): writing a file or replacing it always
    sets them, whatever the tool does to the modification time.
    """

    folders: dict[tuple[str, str, str], Path] = field(default_factory=dict)
    files: dict[tuple[str, str, str], list[tuple[str, int, int, int, int]]] = field(default_factory=dict)
    roots: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per generator, the real paths a file's real path must lie in: data_dir's and the generator folder's."""
    outside: set[str] = field(default_factory=set)
    """Paths of listed files whose real path lies outside their generator's ``roots``."""

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for key in sorted(self.files):
            digest.update(repr(key).encode())
            for entry in self.files[key]:
                digest.update(repr(entry).encode())
        return digest.hexdigest()

    def count(self) -> int:
        return sum(len(v) for v in self.files.values())


FOLDER_MARK = "/"
"""Ends the listed name of a sub-folder: it is reported as skipped, never silently ignored."""


def _list_folder(folder: Path) -> tuple[list[tuple[str, int, int, int, int]], list[str]]:
    """(name, size, mtime_ns, ctime_ns, inode) of every entry (sub-folders listed as ``name/`` with size -1),
    and the names of the entries that are links."""
    entries, links = [], []
    try:
        it = os.scandir(folder)
    except OSError as err:
        raise layout.unreadable(folder, err) from None
    with it:
        for entry in it:
            if entry.is_symlink():
                links.append(entry.name)
            try:
                is_dir, st = entry.is_dir(), entry.stat()
            except OSError:  # a broken link: listed, and reported when it cannot be read
                entries.append((entry.name, -1, 0, 0, 0))
                continue
            name = entry.name + FOLDER_MARK if is_dir else entry.name
            entries.append((name, -1 if is_dir else st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    entries.sort()
    return entries, links


def _outside(folder: Path, entries: list, links: list[str], roots: tuple[str, ...]) -> set[str]:
    """Paths of the entries of ``folder`` whose real path lies outside ``roots``: every entry if the folder's
    does, else the links that lead out (a broken link is left to the read, which names it unreadable)."""
    if not decode.lies_in(os.path.realpath(folder), roots):
        return {str(folder / name) for name, *_ in entries}
    paths = (str(folder / name) for name in links)
    return {path for path in paths if os.path.exists(path) and not decode.lies_in(os.path.realpath(path), roots)}


def scan(root: str | os.PathLike, generator_keys: list[str]) -> Listing:
    """The listing of every source folder of ``generator_keys``.

    A file is read only if its real path (every link resolved) lies in the real data_dir or in the
    real generator folder: a generator folder may be a link to another disk, and links between the
    tree's own files are followed, but a link out of both is a skip (:data:`conversion.decode.OUTSIDE`).
    """
    folders = layout.require_generators(root, generator_keys)
    listing = Listing()
    for key in generator_keys:
        listing.roots[key] = (os.path.realpath(root), os.path.realpath(folders[key]))
        for split in layout.SPLIT_FOLDERS:
            for source in tables.SOURCES:
                folder = layout.source_folder(folders[key], split, source)
                entries, links = _list_folder(folder)
                listing.folders[key, split, source] = folder
                listing.files[key, split, source] = entries
                listing.outside |= _outside(folder, entries, links, listing.roots[key])
    return listing


class Plan(NamedTuple):
    """One split's sorted items, the files skipped for their names, and the accounting of the rest.

    ``found`` and ``excluded`` count files per (generator, source): every file found is an item,
    a skip, or excluded (its class belongs to no wanted task; excluded files are not skips).
    ``empty`` describes each wanted (generator, task, source) without any item: warned, not an error.
    """

    items: list[Item]
    skips: list[Skip]
    excluded: dict[tuple[str, str], int]
    found: dict[tuple[str, str], int]
    empty: tuple[str, ...] = ()


def empty_parts(items: list[Item], wanted: list[tuple[str, int]], split: str, why) -> tuple[str, ...]:
    """One line per wanted (generator, task) and source of ``split`` that has no item, ending with
    ``why(generator, task, source)``, the source's own explanation."""
    present = {(item.generator, item.task, item.source) for item in items}
    return tuple(f"{generator} task {task} {split} {source}: no image ({why(generator, task, source)})"
                 for generator, task in sorted(set(wanted)) for source_id, source in enumerate(tables.SOURCES)
                 if (generator, task, source_id) not in present)


SYSTEM_FILES = {
    ".ds_store": "system file: .DS_Store (macOS folder metadata)",
    "thumbs.db": "system file: Thumbs.db (Windows thumbnail cache)",
    "desktop.ini": "system file: desktop.ini (Windows folder settings)",
}


def name_skip_reason(name: str) -> str | None:
    """Why a file is not even looked at as an image, judged by its name alone (None: look at it)."""
    if name.endswith(FOLDER_MARK):
        return "folder: sub-folders of a source folder are not searched"
    if name.lower() in SYSTEM_FILES:
        return SYSTEM_FILES[name.lower()]
    if name.startswith("._"):
        return "system file: macOS resource fork (._ prefix)"
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "file name: not valid UTF-8"
    unsafe = naming.unsafe_character(name)
    if unsafe:
        return f"file name: {unsafe}"
    extension = naming.split_name(name)[1]
    if extension not in naming.IMAGE_EXTENSIONS:
        return f"not an image file: extension {extension or '(none)'!r}"
    return None


def plan(listing: Listing, split: str, wanted: list[tuple[str, int]]) -> Plan:
    """The :class:`Plan` of ``split`` for the (generator, task) pairs in ``wanted``."""
    task_of_label = tables.task_of_label()
    tags = {k: g.tag for k, g in tables.generators().items()}
    items: list[Item] = []
    skips: list[Skip] = []
    excluded: dict[tuple[str, str], int] = {}
    found: dict[tuple[str, str], int] = {}
    tasks_of = {}
    for generator, task in wanted:
        tasks_of.setdefault(generator, set()).add(task)
    for generator in sorted(tasks_of):
        for source_id, source in enumerate(tables.SOURCES):
            folder = listing.folders[generator, split, source]
            names = listing.files[generator, split, source]
            found[generator, source] = len(names)
            excluded[generator, source] = 0
            for name, size, *_stat in names:
                path = str(folder / name)
                try:
                    reason = name_skip_reason(name) or (decode.OUTSIDE if path in listing.outside else None)
                    if reason is None:
                        label = naming.label_of(name, source, tags[generator])
                except naming.BadFileName as err:
                    reason = f"file name: {err}"
                except Exception as err:  # one odd name never stops the build
                    reason = f"file name: {unexpected(err)}"
                if reason is not None:
                    skips.append(Skip(path, generator, split, source, reason))
                    continue
                task = task_of_label.get(label, (None, None))[0]
                if task in tasks_of[generator]:
                    items.append(Item(task, source_id, label, name, generator, path, size=max(size, 0)))
                else:
                    excluded[generator, source] += 1
    items.sort()

    def why(generator, task, source):
        folder = listing.folders[generator, split, source]
        if not found[generator, source]:
            return f"folder {folder} is empty"
        return f"none of the {found[generator, source]} entries of {folder} is an image of this task's classes"

    return Plan(items, skips, excluded, found, empty_parts(items, wanted, split, why))


def unexpected(err: Exception) -> str:
    """Skip reason for an error no check foresaw: the exception's type and text."""
    text = str(err)
    return f"unexpected error: {type(err).__name__}" + (f": {text}" if text else "")


def row(item: Item, image_bytes: bytes) -> dict:
    """The contract's columns for one item whose stored image is ``image_bytes``."""
    return {"image": {"bytes": image_bytes, "path": None}, **label_columns(item)}


def label_columns(item: Item) -> dict:
    """The contract's columns other than ``image`` for one item."""
    return {
        "label": item.label,
        "task_label": tables.task_of_label()[item.label][1],
        "source": item.source,
        "generator": item.generator,
        "task": item.task,
        "file_name": item.file_name,
    }


def examples(items: list[Item], split: str, image_size, log=None, check: str = "decode", roots=None):
    """(key, example) for each readable item: release pixels as PNG, or the original bytes.

    Every file is decoded in full (original bytes: checked as ``check`` says, see
    :data:`conversion.decode.CHECKS`); unreadable ones are passed to ``log.skip(item, split, reason)``
    (or logged) and left out, and every kept one to ``log.kept(item, difference)``. ``roots``
    ({generator: real folders}, see :attr:`Listing.roots`): where each file's real path must lie.
    """
    size = None if image_size == ORIGINAL else image_size
    for item in items:
        source = tables.SOURCES[item.source]
        try:
            data = decode.read_limited(item.path, roots[item.generator] if roots else ())
            converted = decode.convert(data, source, size, check)
        except Exception as err:  # whatever one file raises is that file's skip, never the build's end
            reason = str(err) if isinstance(err, decode.Unreadable) else unexpected(err)
            if log is None:
                logger.warning(f"skipped {item.path}: {reason}")
            else:
                log.skip(item, split, reason)
            continue
        if log is not None:
            log.kept(item, converted.difference)
        yield f"{item.generator}/{split}/{source}/{item.file_name}", row(item, converted.data)


class RawTreeSource:
    """A raw GenImage tree as a build source: scanned once, planned per split, converted lazily."""

    kind = "raw GenImage tree"

    def __init__(self, root: str | os.PathLike, generator_keys: list[str]):
        self.root = Path(root)
        self.listing = scan(root, generator_keys)

    def fingerprint(self) -> str:
        return self.listing.fingerprint()

    def split_plan(self, split: str, parts: list[tuple[str, int]]) -> Plan:
        return plan(self.listing, split, parts)

    def examples(self, items: list[Item], split: str, image_size, log=None, check: str = "decode"):
        return examples(items, split, image_size, log, check, self.listing.roots)

    def corrupted_copies(self) -> tuple[dict, list]:
        """A raw tree holds no corrupted copies (they are made with the release's recipe), and no bad ones."""
        return {}, []

    def corrupted_copy(self, generator: str, task: int, source: str, corruption: str):
        return None
