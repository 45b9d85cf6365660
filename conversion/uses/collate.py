"""Batching rows whose images differ in size (``image_size="original"``) in a torch DataLoader.

torch's default collate stacks every column and fails on images of different sizes. ``images_as_list``
stacks the other columns as usual and keeps the images as a list, for a model or a transform that
takes them one by one (e.g. resize or crop each, then ``torch.stack``)::

    loader = DataLoader(ds["train"].with_format("torch"), batch_size=64, collate_fn=images_as_list)

The original files are grey, RGB or RGBA (and palette) images, so their tensors have 1, 3 or 4 channels;
``rgb`` makes every image 3-channel RGB first, as Pillow's ``convert("RGB")`` does::

    loader = DataLoader(rgb(ds["train"]).with_format("torch"), batch_size=64, collate_fn=images_as_list)
"""

from __future__ import annotations

import datasets
from torch.utils.data import default_collate


def images_as_list(rows: list[dict], column: str = "image") -> dict:
    """A batch of dict rows: ``column`` as a list of per-row tensors, every other column stacked."""
    batch = default_collate([{k: v for k, v in row.items() if k != column} for row in rows])
    batch[column] = [row[column] for row in rows]
    return batch


def rgb(dataset, column: str = "image"):
    """``dataset`` (a Dataset, DatasetDict or their iterable kinds) with ``column`` decoded as RGB: Pillow's
    ``convert("RGB")`` of each image (grey repeated, palette looked up, alpha dropped), by datasets' own
    ``Image(mode="RGB")``. No data is rewritten; call it before ``with_format``."""
    return dataset.cast_column(column, datasets.Image(mode="RGB"))
