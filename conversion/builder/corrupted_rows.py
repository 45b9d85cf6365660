"""Corrupted test copies as dataset rows: the release's ``X_<corruption>.pt`` or the recipe's output.

A corrupted config (``<config>-<corruption>``) has one split, ``test``, and per (generator, task,
source) the rows of that part's corrupted copy, in the copy's order: the first floor(N / 10) * 10
rows of the part in ``X.pt`` order (release) or the contract's order (raw tree). Its columns are the
clean ones with ``pixels`` (float32 [3, 64, 64], the copy's values bit for bit) in place of ``image``.
"""

from __future__ import annotations

import io
import itertools

import datasets
import numpy as np
import torch
from PIL import Image

from conversion import torch_workers  # per-row work runs torch on one thread (in forked workers too)
from conversion.contract import features, tables
from conversion.pixels import corruption_recipe, release_pipeline
from conversion.sources import raw_tree, release
from conversion.sources.base import Source

COLUMN = "pixels"
SPLIT = "test"


def corrupted_features() -> datasets.Features:
    size = tables.release_pixels()["image_size"]
    clean = features.features()
    columns = {COLUMN: datasets.Array3D(shape=(3, size, size), dtype="float32")}
    columns.update((name, value) for name, value in clean.items() if name != "image")
    return datasets.Features(columns)


def cells(items: list) -> list[list]:
    """The plan's items grouped per (task, source) of a generator, in copy order.

    Release items sort by their ``X.pt`` row; raw-tree items (all index 0) keep the plan's order.
    """
    key = lambda item: (item.task, item.source, item.generator)  # noqa: E731  (the contract's row order)
    return [sorted(group, key=lambda item: item.index) for _, group in itertools.groupby(sorted(items, key=key), key)]


def check_cells(source: Source, cells: list[list], corruption: str) -> None:
    """Before any row is written: an unusable copy of the source is an error naming its file, and
    scikit-image must be there if some cell's copy has to be made with the recipe."""
    made = [items for items in cells
            if source.corrupted_copy(items[0].generator, items[0].task, tables.SOURCES[items[0].source],
                                     corruption) is None]
    if made:
        corruption_recipe.require([corruption])


def _png_pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return release_pipeline.chw_uint8(image)


def _clean_rows(source: Source, items: list, log) -> tuple[list, torch.Tensor]:
    """The readable items of a cell and their release float32 X rows (decoded release pixels, normalized)."""
    by_name = {item.file_name: item for item in items}
    kept, images = [], []
    size = tables.release_pixels()["image_size"]
    for _key, row in source.examples(items, SPLIT, size, log):
        kept.append(by_name[row["file_name"]])
        images.append(_png_pixels(row["image"]["bytes"]))
    if not images:
        return kept, torch.empty((0, 3, size, size), dtype=torch.float32)
    return kept, release.normalize(torch.from_numpy(np.stack(images)))


def _row(item, values: np.ndarray) -> dict:
    return {COLUMN: values, **raw_tree.label_columns(item)}


def examples(source: Source, items: list, corruption: str, log=None):
    """(key, row) of one cell's corrupted copy: the source's own copy if it has one, else the recipe's."""
    first = items[0]
    x = source.corrupted_copy(first.generator, first.task, tables.SOURCES[first.source], corruption)
    if x is None:
        with torch_workers.single_threaded():
            items, clean = _clean_rows(source, items, log)
            x = corruption_recipe.corrupt(clean, corruption)
    elif log is not None:
        for item in items:
            log.kept(item)
    if log is not None:
        for item in items[len(x):]:
            log.excluded(item)
    for item, values in zip(items, x.numpy()):
        yield item.file_name, _row(item, values)
