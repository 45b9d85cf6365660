"""Find each generator's folder in an unzipped GenImage tree (docs/genimage-tree.md#layouts).

A generator folder holds ``train/`` and ``val/``, each with ``ai/`` and ``nature/``. It may sit at
``<root>/<Top>/<inner>``, ``<root>/<inner>``, ``<root>/<Top>/raw`` (the original CL scripts'
layout), or be the root itself. Folder names are matched without regard to case; two folders that
differ only in case, or a generator found in two places, are an error naming both.
"""

from __future__ import annotations

import os
from pathlib import Path

from conversion.contract import tables

SPLIT_FOLDERS = {"train": "train", "test": "val"}
SOURCE_FOLDERS = tables.SOURCES


class LayoutError(ValueError):
    """data_dir is not a GenImage tree, or lacks a generator a config needs."""


def unreadable(folder: Path, err: OSError) -> LayoutError:
    """The error for a folder that exists but cannot be listed (no permission, I/O error), naming it."""
    return LayoutError(f"cannot read folder {str(folder)!r}: {(err.strerror or str(err)).lower()}")


class Folders:
    """The folders of one source opening, each listed once: what detection, the generator search and
    the release's walk ask of a folder comes from its one listing (``os.scandir``; an entry's kind and
    stat are the listing's own, cached by it). Image folders of a raw tree are listed by the scan
    alone, never kept here."""

    def __init__(self) -> None:
        self._listed: dict[str, dict[str, os.DirEntry] | None] = {}

    def entries(self, folder: Path) -> dict[str, os.DirEntry] | None:
        """The entries of ``folder`` by name; None if it is absent or no folder, :func:`unreadable` if
        it cannot be read."""
        key = os.fspath(folder)
        if key not in self._listed:
            try:
                with os.scandir(folder) as listed:
                    self._listed[key] = {entry.name: entry for entry in listed}
            except (FileNotFoundError, NotADirectoryError):
                self._listed[key] = None
            except OSError as err:
                raise unreadable(folder, err) from None
        return self._listed[key]

    def names(self, folder: Path) -> list[str] | None:
        entries = self.entries(folder)
        return None if entries is None else sorted(entries)

    def child(self, folder: Path, name: str) -> Path | None:
        """The sub-folder of ``folder`` called ``name``, compared case-insensitively.

        Two sub-folders that differ only in case (``train/`` and ``Train/``) are an error naming both:
        choosing one would silently drop the other's images. A folder that cannot be read is an error
        naming it: its images would otherwise be missing without a word.
        """
        entries = self.entries(folder)
        if entries is None:
            return None
        try:
            matches = [folder / entry.name for _, entry in sorted(entries.items())
                       if entry.name.lower() == name.lower() and entry.is_dir()]
        except OSError as err:  # listed but not searchable
            raise unreadable(folder, err) from None
        if len(matches) > 1:
            raise LayoutError(
                f"folders {' and '.join(repr(str(m)) for m in matches)} differ only in case; merge them into one "
                f"(or remove one): the build will not choose between them"
            )
        return matches[0] if matches else None

    def describe(self, root: Path, limit: int = 12) -> str:
        """What ``root`` holds, for a message."""
        try:
            entries = self.names(root)
        except LayoutError as err:
            return f"(cannot list: {err})"
        if not entries:
            return "nothing (empty folder)"
        shown = ", ".join(entries[:limit])
        return shown + (f", ... ({len(entries)} entries)" if len(entries) > limit else "")


def _is_generator_folder(folders: Folders, folder: Path | None) -> bool:
    return folder is not None and any(folders.child(folder, s) for s in SPLIT_FOLDERS.values())


def candidates(folders: Folders, root: Path, generator: tables.Generator) -> list[Path]:
    """Every place the generator's folder may be, in the order they are tried."""
    found = []
    top = folders.child(root, generator.top_folder)
    for path in (
        top and folders.child(top, generator.inner_folder),
        folders.child(root, generator.inner_folder),
        top and folders.child(top, "raw"),
        top,
    ):
        if path is not None:
            found.append(path)
    if root.name.lower() in (generator.top_folder.lower(), generator.inner_folder.lower()):
        found.append(root)
    return found


def looked_for(generator: tables.Generator) -> str:
    g = generator
    return f"{g.top_folder}/{g.inner_folder}, {g.inner_folder}, {g.top_folder}/raw or {g.top_folder}"


def find_generators(root: str | os.PathLike, keys: list[str] | None = None,
                    folders: Folders | None = None) -> dict[str, Path]:
    """Map generator key -> folder for every generator of ``keys`` (default: all) present under ``root``."""
    root = Path(root).expanduser()
    folders = Folders() if folders is None else folders
    if folders.entries(root) is None:
        raise LayoutError(f"data_dir {str(root)!r} is not a directory")
    found = {}
    for key, generator in tables.generators().items():
        if keys is not None and key not in keys:
            continue
        places: list[Path] = []
        for path in candidates(folders, root, generator):  # one per real folder: a link to it is no second copy
            if _is_generator_folder(folders, path) and all(path.resolve() != f.resolve() for f in places):
                places.append(path)
        if len(places) > 1:
            raise LayoutError(
                f"{key} is in more than one folder under {str(root)!r}: {' and '.join(repr(str(p)) for p in places)}; "
                f"keep one (or merge them): the build will not choose between them"
            )
        if places:
            found[key] = places[0]
    return found


def readable_generators(folders: Folders, root: Path, found: dict[str, Path] | None = None) -> dict[str, Path]:
    """Every generator under ``root``, for a message; ``found`` (or none) if a generator's folder cannot be read."""
    try:
        return find_generators(root, folders=folders)
    except LayoutError:
        return found or {}


def require_generators(root: str | os.PathLike, keys: list[str], folders: Folders | None = None) -> dict[str, Path]:
    """Folders of ``keys``; a clear error naming what was looked for and what was found otherwise."""
    root = Path(root).expanduser()
    folders = Folders() if folders is None else folders
    found = find_generators(root, keys, folders)
    missing = [k for k in keys if k not in found]
    if missing:
        generators = tables.generators()
        wanted = "; ".join(f"{k}: {looked_for(generators[k])}" for k in missing)
        present = (", ".join(f"{k} at {f}" for k, f in sorted(readable_generators(folders, root, found).items()))
                   or "no generator folder")
        raise LayoutError(
            f"GenImage generator(s) {', '.join(missing)} not found under {str(root)!r}. "
            f"Looked for (each holding train/ or val/ with ai/ and nature/) {wanted}. "
            f"Found {present}; the folder holds {folders.describe(root)}."
        )
    for key in keys:
        for split_folder in SPLIT_FOLDERS.values():
            for source in SOURCE_FOLDERS:
                split = folders.child(found[key], split_folder)
                if split is None or folders.child(split, source) is None:
                    raise LayoutError(
                        f"{key} folder {str(found[key])!r} has no {split_folder}/{source}/ folder; "
                        f"it holds {folders.describe(found[key])}"
                        + (f" and {split_folder}/ holds {folders.describe(split)}" if split else "")
                    )
    return {k: found[k] for k in keys}


def source_folder(folders: Folders, generator_folder: Path, split: str, source: str) -> Path:
    return folders.child(folders.child(generator_folder, SPLIT_FOLDERS[split]), source)
