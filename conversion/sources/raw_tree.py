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

from conversion.contract import tables
from conversion.pixels import decode
from conversion.sources import content_digests, file_names, generator_folders

logger = logging.getLogger(__name__)

ORIGINAL = "original"
"""``image_size`` value that keeps every source file's bytes untouched."""
RAW_TREE = "raw"
"""``Source.kind`` of a raw GenImage tree."""


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
    listed: tuple = ()
    """(size, mtime_ns, ctime_ns, inode) as listed, for the content digest of a file read (raw trees)."""
    identity: tuple = ()
    """The (ctime_ns, inode) the source's fingerprint holds for the file."""


class Skip(NamedTuple):
    path: str
    generator: str
    split: str
    source: str
    reason: str


class FolderIndex(NamedTuple):
    """A source folder's entries (positions in its listing) by what their names say."""

    by_task: dict[int, list[tuple[int, int]]]
    """Images of each task's classes, as (position, label)."""
    skips: list[tuple[int, str]]
    """Entries skipped for their name, or because their real path lies outside the tree, with the reason."""
    other: int
    """Images of classes in no task (excluded by every config)."""


@dataclass
class Listing:
    """Files found per (generator, split, source) folder, as (name, size, mtime_ns, ctime_ns, inode).

    The change time and inode make the fingerprint catch a repair that keeps size and modification
    time (``unzip -o`` of a fixed zip, ``cp -p``, ``rsync -t``): writing a file or replacing it always
    sets them, whatever the tool does to the modification time. A file whose change time or inode
    moved while its bytes stayed those a build read (a new hard link, ``chmod``, ``chown``) keeps the
    identity it was built with (``identities``, see :mod:`conversion.sources.content_digests`).
    """

    folders: dict[tuple[str, str, str], Path] = field(default_factory=dict)
    files: dict[tuple[str, str, str], list[tuple[str, int, int, int, int]]] = field(default_factory=dict)
    roots: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per generator, the real paths a file's real path must lie in: data_dir's and the generator folder's."""
    outside: set[str] = field(default_factory=set)
    """Paths of listed files whose real path lies outside their generator's ``roots``."""
    read_by_configs: dict[tuple[str, str, str], frozenset[str]] = field(default_factory=dict)
    """Per folder, the names of the files some config reads; the others count by their name alone."""
    identities: dict[tuple[str, str, str], dict[str, tuple[int, int]]] = field(default_factory=dict)
    """Per folder, {name: (ctime_ns, inode) it was built with} of the files whose bytes have not changed since."""
    index: dict[tuple[str, str, str], FolderIndex] = field(default_factory=dict)
    """Per folder, its entries sorted by what their names say (parsed once, at the scan)."""

    def fingerprint(self, generators: list[str] | None = None) -> str:
        """The identity of the listed files of ``generators`` (default: all listed)."""
        digest = hashlib.sha256()
        for key in sorted(self.files):
            if generators is not None and key[0] not in generators:
                continue
            digest.update(repr(key).encode())
            read, kept = self.read_by_configs[key], self.identities.get(key, {})
            for entry in self.files[key]:
                identity = kept.get(entry[0])
                if entry[0] not in read:
                    entry = entry[:1]
                elif identity is not None:
                    entry = (*entry[:3], *identity)
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
        raise generator_folders.unreadable(folder, err) from None
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
            size, *times = content_digests.stat_fingerprint(st)
            entries.append((name, -1 if is_dir else size, *times))
    entries.sort()
    return entries, links


def _outside(folder: Path, entries: list, links: list[str], roots: tuple[str, ...]) -> set[str]:
    """Paths of the entries of ``folder`` whose real path lies outside ``roots``: every entry if the folder's
    does, else the links that lead out (a broken link is left to the read, which names it unreadable)."""
    if not decode.lies_in(os.path.realpath(folder), roots):
        return {str(folder / name) for name, *_ in entries}
    paths = (str(folder / name) for name in links)
    return {path for path in paths if os.path.exists(path) and not decode.lies_in(os.path.realpath(path), roots)}


def scan(root: str | os.PathLike, generator_keys: list[str],
         folders: generator_folders.Folders | None = None) -> Listing:
    """The listing of every source folder of ``generator_keys``.

    A file is read only if its real path (every link resolved) lies in the real data_dir or in the
    real generator folder: a generator folder may be a link to another disk, and links between the
    tree's own files are followed, but a link out of both is a skip (:data:`conversion.pixels.decode.OUTSIDE`).
    """
    folders = generator_folders.Folders() if folders is None else folders
    found = generator_folders.require_generators(root, generator_keys, folders)
    listing = Listing()
    for key in generator_keys:
        listing.roots[key] = (os.path.realpath(root), os.path.realpath(found[key]))
        for split in generator_folders.SPLIT_FOLDERS:
            for source in tables.SOURCES:
                folder = generator_folders.source_folder(folders, found[key], split, source)
                entries, links = _list_folder(folder)
                outside = _outside(folder, entries, links, listing.roots[key])
                labels = [name_label(entry[0], source, tables.generators()[key].tag) for entry in entries]
                listing.folders[key, split, source] = folder
                listing.files[key, split, source] = entries
                listing.read_by_configs[key, split, source] = _read_by_some_config(entries, labels)
                listing.index[key, split, source] = _index(folder, entries, labels, outside)
                listing.outside |= outside
        _keep_identities(listing, key)
    return listing


def _note_name(split: str, source: str, name: str) -> str:
    """A file's name in the content digests of its generator folder."""
    return f"{split}/{source}/{name}"


def _keep_identities(listing: Listing, generator: str) -> None:
    """Fill ``listing.identities`` for ``generator`` from the digests its builds noted."""
    roots = listing.roots[generator]
    states = {_note_name(split, source, entry[0]): content_digests.State(str(folder / entry[0]), *entry[1:])
              for (key, split, source), folder in listing.folders.items() if key == generator
              for entry in listing.files[key, split, source] if entry[0] in listing.read_by_configs[key, split, source]}
    kept = content_digests.identities(roots[1], states, lambda path: decode.read_limited(path, roots))
    for name, identity in kept.items():
        split, source, file_name = name.split("/", 2)
        listing.identities.setdefault((generator, split, source), {})[file_name] = identity


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
    unsafe = file_names.unsafe_character(name)
    if unsafe:
        return f"file name: {unsafe}"
    extension = file_names.split_name(name)[1]
    if extension not in file_names.IMAGE_EXTENSIONS:
        return f"not an image file: extension {extension or '(none)'!r}"
    return None


def name_label(name: str, source: str, tag: str) -> tuple[int | None, str | None]:
    """(the class a file's name gives, None), or (None, why the file is skipped for its name)."""
    try:
        reason = name_skip_reason(name)
        if reason is not None:
            return None, reason
        return file_names.label_of(name, source, tag), None
    except file_names.BadFileName as err:
        return None, f"file name: {err}"
    except Exception as err:  # one odd name never stops the build
        return None, f"file name: {unexpected(err)}"


def _read_by_some_config(entries: list, labels: list[tuple[int | None, str | None]]) -> frozenset[str]:
    """Names of the files some config reads: named like an image of a task class (the others are skipped
    or excluded for their name alone, whatever their bytes)."""
    task_of_label = tables.task_of_label()
    return frozenset(entry[0] for entry, (label, reason) in zip(entries, labels)
                     if reason is None and label in task_of_label)


def _index(folder: Path, entries: list, labels: list[tuple[int | None, str | None]], outside: set[str]) -> FolderIndex:
    """The :class:`FolderIndex` of a listed folder whose names gave ``labels``."""
    task_of_label = tables.task_of_label()
    by_task: dict[int, list[tuple[int, int]]] = {}
    skips, other = [], 0
    for position, (entry, (label, reason)) in enumerate(zip(entries, labels)):
        if reason is None and outside and str(folder / entry[0]) in outside:
            reason = decode.OUTSIDE
        if reason is not None:
            skips.append((position, reason))
        elif label in task_of_label:
            by_task.setdefault(task_of_label[label][0], []).append((position, label))
        else:
            other += 1
    return FolderIndex(by_task, skips, other)


def plan(listing: Listing, split: str, wanted: list[tuple[str, int]]) -> Plan:
    """The :class:`Plan` of ``split`` for the (generator, task) pairs in ``wanted``: only the wanted
    tasks' entries are looked at (every name was parsed once, by the scan)."""
    items: list[Item] = []
    skips: list[Skip] = []
    excluded: dict[tuple[str, str], int] = {}
    found: dict[tuple[str, str], int] = {}
    tasks_of = {}
    for generator, task in wanted:
        tasks_of.setdefault(generator, set()).add(task)
    for generator in sorted(tasks_of):
        for source_id, source in enumerate(tables.SOURCES):
            key = (generator, split, source)
            folder, entries, index = listing.folders[key], listing.files[key], listing.index[key]
            kept = listing.identities.get(key, {})
            found[generator, source] = len(entries)
            excluded[generator, source] = index.other
            skips += [Skip(str(folder / entries[position][0]), generator, split, source, reason)
                      for position, reason in index.skips]
            for task, images in sorted(index.by_task.items()):
                if task not in tasks_of[generator]:
                    excluded[generator, source] += len(images)
                    continue
                for position, label in images:
                    name, size, mtime_ns, ctime_ns, inode = entries[position]
                    items.append(Item(task, source_id, label, name, generator, str(folder / name), size=max(size, 0),
                                      listed=(size, mtime_ns, ctime_ns, inode),
                                      identity=kept.get(name, (ctime_ns, inode))))
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


def examples(items: list[Item], split: str, image_size, log=None, check: str = "decode", read=None):
    """(key, example) for each readable item: release pixels as PNG, or the original bytes.

    Every file is decoded in full (original bytes: checked as ``check`` says, see
    :data:`conversion.pixels.decode.CHECKS`); unreadable ones are passed to ``log.skip(item, split, reason)``
    (or logged) and left out, and every kept one to ``log.kept(item, difference)``. ``read(item)``
    gives an item's bytes (default: :func:`conversion.pixels.decode.read_limited` of its path).
    """
    size = None if image_size == ORIGINAL else image_size
    for item in items:
        source = tables.SOURCES[item.source]
        try:
            data = decode.read_limited(item.path) if read is None else read(item)
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
    """A raw GenImage tree as a build source: listed once (:func:`conversion.sources.kinds.open_source`),
    planned per split from that listing, converted lazily. Pickled for ``num_proc`` workers without the
    listing: a worker's items carry what reading them needs."""

    kind = RAW_TREE
    description = "raw GenImage tree"

    def __init__(self, root: Path, listing: Listing, folders: generator_folders.Folders):
        self.root = root
        self.listing = listing
        self.roots = listing.roots
        self._folders = folders

    def __getstate__(self) -> dict:
        return {"root": self.root, "roots": self.roots, "listing": None, "_folders": None}

    @property
    def generators(self) -> list[str]:
        return sorted(self.roots)

    def require(self, generator_keys: list[str], image_size=64) -> None:
        """A clear error, as the opening would have given, if a generator of ``generator_keys`` is not
        listed (a raw tree gives every ``image_size``)."""
        if not set(generator_keys) <= set(self.roots):
            generator_folders.require_generators(self.root, generator_keys, self._folders)

    def parts(self) -> list[tuple[str, int]]:
        """Every (generator, task) of the listed generators."""
        return [(key, task) for key in self.generators for task in range(len(tables.task_classes()))]

    def fingerprint(self, generators: list[str] | None = None) -> str:
        return self.listing.fingerprint(generators)

    def split_plan(self, split: str, parts: list[tuple[str, int]]) -> Plan:
        return plan(self.listing, split, parts)

    def examples(self, items: list[Item], split: str, image_size, log=None, check: str = "decode"):
        """:func:`examples` of files read only inside the tree, noting the digest of each file read as listed."""
        recorder = content_digests.Recorder()
        try:
            yield from examples(items, split, image_size, log, check, lambda item: self._read(item, split, recorder))
        finally:
            recorder.save()

    def _read(self, item: Item, split: str, recorder: content_digests.Recorder) -> bytes:
        roots = self.roots[item.generator]
        data, stat = decode.read_file(item.path, roots)
        if item.listed:
            state = content_digests.State(item.path, *item.listed)
            recorder.add(roots[1], _note_name(split, tables.SOURCES[item.source], item.file_name), state,
                         item.identity, stat, data)
        return data

    def corrupted_copies(self) -> tuple[dict, list]:
        """A raw tree holds no corrupted copies (they are made with the release's recipe), and no bad ones."""
        return {}, []

    def corrupted_copy(self, generator: str, task: int, source: str, corruption: str):
        return None
