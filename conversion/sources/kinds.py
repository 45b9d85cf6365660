"""What ``data_dir`` points at: the kinds of build source, and how to tell them apart.

A raw GenImage tree is recognised by its generator folders (:mod:`conversion.sources.generator_folders`), a CL
tensor release by its ``X.pt``/``y.pt`` files (:mod:`conversion.sources.release`). A tree whose generator
folders hold tensor files is a release (the original scripts' layout nests them that way too).
"""

from __future__ import annotations

import os
from pathlib import Path

from conversion.contract import configs, tables
from conversion.pixels import decode
from conversion.sources import generator_folders, raw_tree, release

ORIGINAL = raw_tree.ORIGINAL
"""``image_size`` value that keeps every source file's bytes untouched (``None`` is accepted too)."""
CHECKS = decode.CHECKS

RAW_TREE = "raw"
RELEASE = "release"


def _holds_tensors(generator_folder: Path) -> bool:
    """True if ``<split>/<source>/X.pt`` exists in the folder (looked up without listing image folders,
    so an image folder that cannot be read is named by the scan, not taken for a missing X.pt)."""
    for split in generator_folders.list_folder(generator_folder) or ():
        split_dir = generator_folder / split
        if os.path.isdir(split_dir) and any(os.path.isfile(split_dir / source / release.X_FILE)
                                            for source in generator_folders.list_folder(split_dir) or ()):
            return True
    return False


def detect(data_dir: str | os.PathLike, generator_keys: list[str] | None = None) -> str:
    """``RAW_TREE`` or ``RELEASE``; a clear error, naming the folders looked for, when it is neither."""
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise generator_folders.LayoutError(f"data_dir {str(root)!r} is not a directory")
    generators = generator_folders.find_generators(root, generator_keys)
    if generators and not any(_holds_tensors(folder) for folder in generators.values()):
        return RAW_TREE
    if release.looks_like_release(root):
        return RELEASE
    if generators or generator_folders.readable_generators(root):  # a raw tree without a wanted generator: named by the scan
        return RAW_TREE
    table = tables.generators()
    wanted = "; ".join(f"{k}: {generator_folders.looked_for(table[k])}" for k in generator_keys or table)
    raise generator_folders.LayoutError(
        f"data_dir {str(root)!r} is neither a raw GenImage tree nor a CL tensor release: found no generator folder "
        f"(looked for {wanted}, each holding train/ and val/ with ai/ and nature/) and no X.pt/y.pt tensor pair; "
        f"the folder holds {generator_folders.describe(root)}"
    )


def open_source(data_dir: str | os.PathLike, generator_keys: list[str], image_size=64):
    """The build source under ``data_dir`` for the given generators."""
    if detect(data_dir, generator_keys) == RELEASE:
        return release.ReleaseSource(data_dir, generator_keys, image_size)
    return raw_tree.RawTreeSource(data_dir, generator_keys)


def present_parts(data_dir: str | os.PathLike) -> list[tuple[str, int]]:
    """Every (generator, task) that ``data_dir`` holds."""
    if detect(data_dir) == RELEASE:
        pairs = release.discover(data_dir)
        return release.ReleaseSource(data_dir, sorted({p.generator for p in pairs})).parts()
    found = sorted(generator_folders.find_generators(data_dir))
    return [(key, task) for key in found for task in range(configs.NUM_TASKS)]
