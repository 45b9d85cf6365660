"""Batching rows whose images differ in size (``image_size="original"``) in a torch DataLoader.

torch's default collate stacks every column and fails on images of different sizes. ``images_as_list``
stacks the other columns as usual and keeps the images as a list, for a model or a transform that
takes them one by one (e.g. resize or crop each, then ``torch.stack``)::

    loader = DataLoader(ds["train"].with_format("torch"), batch_size=64, collate_fn=images_as_list)
"""

from __future__ import annotations

from torch.utils.data import default_collate


def images_as_list(rows: list[dict], column: str = "image") -> dict:
    """A batch of dict rows: ``column`` as a list of per-row tensors, every other column stacked."""
    batch = default_collate([{k: v for k, v in row.items() if k != column} for row in rows])
    batch[column] = [row[column] for row in rows]
    return batch
