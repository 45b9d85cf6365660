"""Turn a loaded split back into the paper's tensors, so training code written for X.pt/y.pt runs unchanged.

``paper_tensors(ds["train"])`` returns ``{(task, source): (X, y)}`` with ``X`` float32
``[N, 3, 64, 64]`` normalized exactly as the release (or uint8 pixels) and ``y`` in the chosen
notation: ``"clsloc"`` (clsloc id - 1, as the release's ``y.pt``), ``"standard"`` (the ``label``
column) or ``"rank"`` (the paper's loader: rank among the task's unique clsloc ids in the split,
0..99). Rows keep the dataset's order, except that rows built from the tensor release go back to
their order in ``X.pt``, so the result equals the release bit for bit. ``paper_loader=True`` gives
what the paper's loader feeds its model (docs/paper-loader.md#loader-rules): the first floor(N / 10) * 10 rows of
each (task, source) and, by default, their ranks among the labels those rows hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import datasets
import numpy as np
import torch

from conversion.builder import corrupted_rows
from conversion.contract import tables
from conversion.sources import release
from conversion.uses import streams, uint8_batches

NOTATIONS = ("clsloc", "standard", "rank")
DTYPES = ("float32", "uint8")


class Tensors(NamedTuple):
    X: torch.Tensor
    y: torch.Tensor


def _labels(standard: np.ndarray, notation: str, task_clsloc: np.ndarray) -> np.ndarray:
    clsloc = np.asarray(tables.clsloc_of_label(), dtype=np.int64)[standard] - 1
    if notation == "clsloc":
        return clsloc
    if notation == "standard":
        return standard
    return np.searchsorted(task_clsloc, clsloc)


def _stacked_pixels(split: datasets.Dataset, part: datasets.Dataset, rows: list[int], batch_size: int) -> np.ndarray:
    """uint8 ``[n, 3, H, W]`` of the images of ``part`` (rows ``rows`` of ``split``), each checked from its header
    before it is decoded; a ``ValueError`` naming the row for one that is no image, a bomb or of another size."""
    images = []
    for row, image in zip(rows, (image for batch in part.iter(batch_size=batch_size) for image in batch["image"])):
        size = (images[0].shape[2], images[0].shape[1]) if images else None
        try:
            images.append(uint8_batches.rgb_pixels(image["bytes"], size))
        except ValueError as err:
            raise ValueError(f"{uint8_batches.describe_row(split, row)}: {err}") from None
    return np.stack(images)


def _task_clsloc(standard: np.ndarray) -> np.ndarray:
    """Sorted unique clsloc ids - 1 of these standard labels: what the "rank" notation ranks among."""
    return np.unique(np.asarray(tables.clsloc_of_label(), dtype=np.int64)[standard] - 1)


def paper_tensors(
    split: datasets.Dataset,
    task: int | None = None,
    source: str | None = None,
    dtype: str = "float32",
    labels: str | None = None,
    batch_size: int = 1000,
    paper_loader: bool = False,
) -> dict[tuple[int, str], Tensors]:
    """``{(task, source): Tensors(X, y)}`` of one split, optionally one task and/or one source.

    ``labels`` defaults to ``"clsloc"`` (as ``y.pt``), or ``"rank"`` with ``paper_loader=True``, whose
    ranks are taken among the kept rows of each (task, source), as the paper's loader does.
    """
    if isinstance(split, Mapping):
        raise ValueError(f"paper_tensors takes one split (e.g. ds['train']), not a DatasetDict of {list(split)}")
    if labels is None:
        labels = "rank" if paper_loader else "clsloc"
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if labels not in NOTATIONS:
        raise ValueError(f"labels must be one of {NOTATIONS}, got {labels!r}")
    if source is not None and source not in tables.SOURCES:
        raise ValueError(f"source must be one of {tables.SOURCES}, got {source!r}")
    columns = split.select_columns(["task", "source", "label"]).with_format("numpy")[:]  # honours a view's indices
    task_col, source_col, label_col = (np.asarray(columns[name], dtype=np.int64)
                                       for name in ("task", "source", "label"))
    keep = np.ones(len(split), dtype=bool)
    if task is not None:
        keep &= task_col == task
    if source is not None:
        keep &= source_col == tables.SOURCES.index(source)
    rows = np.flatnonzero(keep)
    if not len(rows):
        present = sorted({(int(t), tables.SOURCES[s]) for t, s in zip(task_col, source_col)})
        asked = " ".join(f"{name}={value!r}" for name, value in (("task", task), ("source", source))
                         if value is not None)
        raise ValueError(f"no rows of {asked} in this split; it holds (task, source) {present}")
    floats = corrupted_rows.COLUMN in split.column_names  # a corrupted copy: its float32 values are X itself
    if floats and dtype != "float32":
        raise ValueError("a corrupted copy holds float32 values, not uint8 pixels: use dtype='float32'")
    raw = split.select_columns([corrupted_rows.COLUMN, "label", "file_name"]).with_format("numpy") if floats else \
        split.cast_column("image", datasets.Image(decode=False)).select_columns(["image", "label", "file_name"])
    cells: dict[tuple[int, str], list[int]] = {}
    for row in rows:
        cells.setdefault((int(task_col[row]), tables.SOURCES[source_col[row]]), []).append(int(row))
    result = {}
    for (t, s), cell_rows in sorted(cells.items()):
        part = raw.select(cell_rows)
        names = part["file_name"]
        order = streams.paper_order(names) if paper_loader else streams.release_order(names)
        standard = np.asarray(part["label"], dtype=np.int64)[order]
        task_clsloc = _task_clsloc(standard if paper_loader else label_col[task_col == t])
        y = torch.from_numpy(_labels(standard, labels, task_clsloc).astype(np.int64))
        if floats:
            x = torch.from_numpy(np.ascontiguousarray(np.asarray(part[corrupted_rows.COLUMN], dtype=np.float32)[order]))
            result[t, s] = Tensors(x, y)
            continue
        u8 = torch.from_numpy(_stacked_pixels(split, part, cell_rows, batch_size)[order])
        result[t, s] = Tensors(release.normalize(u8) if dtype == "float32" else u8, y)
    return result
