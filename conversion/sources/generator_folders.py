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


def list_folder(folder: Path) -> list[str] | None:
    """The entry names of ``folder``; None if it is absent or no folder, :func:`unreadable` if it cannot be read."""
    try:
        return os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise unreadable(folder, err) from None


def _child(folder: Path, name: str) -> Path | None:
    """The sub-folder of ``folder`` called ``name``, compared case-insensitively.

    Two sub-folders that differ only in case (``train/`` and ``Train/``) are an error naming both:
    choosing one would silently drop the other's images. A folder that cannot be read is an error
    naming it: its images would otherwise be missing without a word.
    """
    entries = list_folder(folder)
    if entries is None:
        return None
    try:
        matches = [folder / entry for entry in sorted(entries)
                   if entry.lower() == name.lower() and (folder / entry).is_dir()]
    except OSError as err:  # listed but not searchable
        raise unreadable(folder, err) from None
    if len(matches) > 1:
        raise LayoutError(
            f"folders {' and '.join(repr(str(m)) for m in matches)} differ only in case; merge them into one "
            f"(or remove one): the build will not choose between them"
        )
    return matches[0] if matches else None


def _is_generator_folder(folder: Path | None) -> bool:
    return folder is not None and any(_child(folder, s) for s in SPLIT_FOLDERS.values())


def candidates(root: Path, generator: tables.Generator) -> list[Path]:
    """Every place the generator's folder may be, in the order they are tried."""
    found = []
    top = _child(root, generator.top_folder)
    for path in (
        top and _child(top, generator.inner_folder),
        _child(root, generator.inner_folder),
        top and _child(top, "raw"),
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


def find_generators(root: str | os.PathLike, keys: list[str] | None = None) -> dict[str, Path]:
    """Map generator key -> folder for every generator of ``keys`` (default: all) present under ``root``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise LayoutError(f"data_dir {str(root)!r} is not a directory")
    found = {}
    for key, generator in tables.generators().items():
        if keys is not None and key not in keys:
            continue
        folders: list[Path] = []
        for path in candidates(root, generator):  # one per real folder: a link to it is no second copy
            if _is_generator_folder(path) and all(path.resolve() != f.resolve() for f in folders):
                folders.append(path)
        if len(folders) > 1:
            raise LayoutError(
                f"{key} is in more than one folder under {str(root)!r}: {' and '.join(repr(str(p)) for p in folders)}; "
                f"keep one (or merge them): the build will not choose between them"
            )
        if folders:
            found[key] = folders[0]
    return found


def describe(root: Path, limit: int = 12) -> str:
    try:
        entries = sorted(os.listdir(root))
    except OSError as err:
        return f"(cannot list: {err})"
    if not entries:
        return "nothing (empty folder)"
    shown = ", ".join(entries[:limit])
    return shown + (f", ... ({len(entries)} entries)" if len(entries) > limit else "")


def readable_generators(root: Path, found: dict[str, Path] | None = None) -> dict[str, Path]:
    """Every generator under ``root``, for a message; ``found`` (or none) if a generator's folder cannot be read."""
    try:
        return find_generators(root)
    except LayoutError:
        return found or {}


def require_generators(root: str | os.PathLike, keys: list[str]) -> dict[str, Path]:
    """Folders of ``keys``; a clear error naming what was looked for and what was found otherwise."""
    root = Path(root).expanduser()
    found = find_generators(root, keys)
    missing = [k for k in keys if k not in found]
    if missing:
        generators = tables.generators()
        wanted = "; ".join(f"{k}: {looked_for(generators[k])}" for k in missing)
        present = (", ".join(f"{k} at {f}" for k, f in sorted(readable_generators(root, found).items()))
                   or "no generator folder")
        raise LayoutError(
            f"GenImage generator(s) {', '.join(missing)} not found under {str(root)!r}. "
            f"Looked for (each holding train/ or val/ with ai/ and nature/) {wanted}. "
            f"Found {present}; the folder holds {describe(root)}."
        )
    for key in keys:
        for split_folder in SPLIT_FOLDERS.values():
            for source in SOURCE_FOLDERS:
                split = _child(found[key], split_folder)
                if split is None or _child(split, source) is None:
                    raise LayoutError(
                        f"{key} folder {str(found[key])!r} has no {split_folder}/{source}/ folder; "
                        f"it holds {describe(found[key])}"
                        + (f" and {split_folder}/ holds {describe(split)}" if split else "")
                    )
    return {k: found[k] for k in keys}


def source_folder(generator_folder: Path, split: str, source: str) -> Path:
    split_path = _child(generator_folder, SPLIT_FOLDERS[split])
    return _child(split_path, source)
