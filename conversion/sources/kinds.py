"""Open what ``data_dir`` points at, once: a raw GenImage tree or a CL tensor release, as a source object.

A raw GenImage tree is recognised by its generator folders (:mod:`conversion.sources.generator_folders`), a CL
tensor release by its ``X.pt``/``y.pt`` files (:mod:`conversion.sources.release`). A tree whose generator
folders hold tensor files is a release (the original scripts' layout nests them that way too). Every folder
is listed once per opening; the source object holds what was found (the listing and its stats) and is
passed to planning, building, publishing, the card and the exports.
"""

from __future__ import annotations

import os
from pathlib import Path

from conversion.contract import tables
from conversion.pixels import decode
from conversion.sources import base, generator_folders, raw_tree, release

ORIGINAL = raw_tree.ORIGINAL
"""``image_size`` value that keeps every source file's bytes untouched (``None`` is accepted too)."""
CHECKS = decode.CHECKS

RAW_TREE = raw_tree.RAW_TREE
RELEASE = release.RELEASE


def _holds_tensors(folders: generator_folders.Folders, generator_folder: Path) -> bool:
    """True if ``<split>/<source>/X.pt`` exists in the folder (looked up without listing image folders,
    so an image folder that cannot be read is named by the scan, not taken for a missing X.pt)."""
    for split in folders.names(generator_folder) or ():
        split_dir = generator_folder / split
        if os.path.isdir(split_dir) and any(os.path.isfile(split_dir / source / release.X_FILE)
                                            for source in folders.names(split_dir) or ()):
            return True
    return False


def open_source(data_dir: str | os.PathLike, generator_keys: list[str] | None = None, image_size=64) -> base.Source:
    """The build source under ``data_dir`` holding ``generator_keys`` (default: every generator present);
    a clear error, naming the folders looked for, when it is neither kind or lacks a generator."""
    root = Path(data_dir).expanduser()
    folders = generator_folders.Folders()
    if folders.entries(root) is None:
        raise generator_folders.LayoutError(f"data_dir {str(root)!r} is not a directory")
    generators = generator_folders.find_generators(root, generator_keys, folders)
    if generators and not any(_holds_tensors(folders, folder) for folder in generators.values()):
        return _raw_tree(root, generator_keys or sorted(generators), folders)
    found = release.scan(root, folders)
    if found.pairs:
        return release.ReleaseSource(root, found, generator_keys, image_size)
    readable = generators or generator_folders.readable_generators(folders, root)
    if readable:  # a raw tree without a wanted generator: named by the scan
        return _raw_tree(root, generator_keys or sorted(readable), folders)
    table = tables.generators()
    wanted = "; ".join(f"{k}: {generator_folders.looked_for(table[k])}" for k in generator_keys or table)
    raise generator_folders.LayoutError(
        f"data_dir {str(root)!r} is neither a raw GenImage tree nor a CL tensor release: found no generator folder "
        f"(looked for {wanted}, each holding train/ and val/ with ai/ and nature/) and no X.pt/y.pt tensor pair; "
        f"the folder holds {folders.describe(root)}"
    )


def _raw_tree(root: Path, keys: list[str], folders: generator_folders.Folders) -> raw_tree.RawTreeSource:
    return raw_tree.RawTreeSource(root, raw_tree.scan(root, keys, folders), folders)
