"""One scan of a raw GenImage tree: list every file once, label it, assign it to a task.

The scan is done once per build (not once per task) and gives both the cache fingerprint of the
source (names, sizes, modification times) and the sorted list of examples to convert.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from PIL import Image

from conversion import layout, naming, pixels, tables

logger = logging.getLogger(__name__)

ORIGINAL = "original"
"""``image_size`` value that keeps every source file's bytes untouched."""


class Item(NamedTuple):
    """One image to convert. Sorted tuples give the contract's row order."""

    task: int
    source: int
    label: int
    file_name: str
    generator: str
    path: str


class Skip(NamedTuple):
    path: str
    generator: str
    split: str
    source: str
    reason: str


@dataclass
class Listing:
    """Files found per (generator, split, source) folder, as (name, size, mtime_ns)."""

    folders: dict[tuple[str, str, str], Path] = field(default_factory=dict)
    files: dict[tuple[str, str, str], list[tuple[str, int, int]]] = field(default_factory=dict)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for key in sorted(self.files):
            digest.update(repr(key).encode())
            for entry in self.files[key]:
                digest.update(repr(entry).encode())
        return digest.hexdigest()

    def count(self) -> int:
        return sum(len(v) for v in self.files.values())


def _list_folder(folder: Path) -> list[tuple[str, int, int]]:
    entries = []
    with os.scandir(folder) as it:
        for entry in it:
            if entry.is_file():
                st = entry.stat()
                entries.append((entry.name, st.st_size, st.st_mtime_ns))
    entries.sort()
    return entries


def scan(root: str | os.PathLike, generator_keys: list[str]) -> Listing:
    folders = layout.require_generators(root, generator_keys)
    listing = Listing()
    for key in generator_keys:
        for split in layout.SPLIT_FOLDERS:
            for source in tables.SOURCES:
                folder = layout.source_folder(folders[key], split, source)
                listing.folders[key, split, source] = folder
                listing.files[key, split, source] = _list_folder(folder)
    return listing


def plan(
    listing: Listing, split: str, wanted: list[tuple[str, int]]
) -> tuple[list[Item], list[Skip], dict[tuple[str, str], int]]:
    """Sorted items of ``split`` for the (generator, task) pairs in ``wanted``.

    Returns the items, the files skipped for their names, and the number of files per
    (generator, source) whose class belongs to no wanted task (excluded, not skipped).
    """
    task_of_label = tables.task_of_label()
    tags = {k: g.tag for k, g in tables.generators().items()}
    items: list[Item] = []
    skips: list[Skip] = []
    excluded: dict[tuple[str, str], int] = {}
    tasks_of = {}
    for generator, task in wanted:
        tasks_of.setdefault(generator, set()).add(task)
    for generator in sorted(tasks_of):
        for source_id, source in enumerate(tables.SOURCES):
            folder = listing.folders[generator, split, source]
            for name, _size, _mtime in listing.files[generator, split, source]:
                path = str(folder / name)
                if naming.split_name(name)[1] not in naming.IMAGE_EXTENSIONS:
                    skips.append(Skip(path, generator, split, source, "not an image file (extension)"))
                    continue
                try:
                    label = naming.label_of(name, source, tags[generator])
                except naming.BadFileName as err:
                    skips.append(Skip(path, generator, split, source, f"file name: {err}"))
                    continue
                task = task_of_label.get(label, (None, None))[0]
                if task in tasks_of[generator]:
                    items.append(Item(task, source_id, label, name, generator, path))
                else:
                    excluded[generator, source] = excluded.get((generator, source), 0) + 1
    items.sort()
    return items, skips, excluded


def examples(items: list[Item], split: str, image_size):
    """(key, example) for each item: release pixels as PNG, or the original bytes."""
    task_of_label = tables.task_of_label()
    for item in items:
        source = tables.SOURCES[item.source]
        with open(item.path, "rb") as f:
            data = f.read()
        if image_size != ORIGINAL:
            with Image.open(io.BytesIO(data)) as image:
                data = pixels.png_bytes(pixels.release_pixels(image, source, image_size))
        yield f"{item.generator}/{split}/{source}/{item.file_name}", {
            "image": {"bytes": data, "path": None},
            "label": item.label,
            "task_label": task_of_label[item.label][1],
            "source": item.source,
            "generator": item.generator,
            "task": item.task,
            "file_name": item.file_name,
        }


class RawTreeSource:
    """A raw GenImage tree as a build source: scanned once, planned per split, converted lazily."""

    kind = "raw GenImage tree"

    def __init__(self, root: str | os.PathLike, generator_keys: list[str]):
        self.root = Path(root)
        self.listing = scan(root, generator_keys)

    def fingerprint(self) -> str:
        return self.listing.fingerprint()

    def split_items(self, split: str, parts: list[tuple[str, int]]) -> list[Item]:
        items, skips, _excluded = plan(self.listing, split, parts)
        for skip in skips:
            logger.warning(f"skipped {skip.path}: {skip.reason}")
        return items

    def examples(self, items: list[Item], split: str, image_size):
        return examples(items, split, image_size)
