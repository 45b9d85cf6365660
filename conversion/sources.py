"""What ``data_dir`` points at: the kinds of build source, and how to tell them apart."""

from __future__ import annotations

import os

from conversion import raw_tree

ORIGINAL = raw_tree.ORIGINAL
"""``image_size`` value that keeps every source file's bytes untouched (``None`` is accepted too)."""


def open_source(data_dir: str | os.PathLike, generator_keys: list[str]):
    """The build source under ``data_dir`` for the given generators."""
    return raw_tree.RawTreeSource(data_dir, generator_keys)
