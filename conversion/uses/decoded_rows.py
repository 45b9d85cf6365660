"""Decoded uint8 images as an array of HxWx3 rows that reads datasets' memory-mapped cache, for Continuum.

Continuum keeps a split's images in one array ``x`` and cuts each task set with ``x[indices]``; with a
numpy array that is a copy of the pixels in memory. :class:`DecodedRows` has the same interface for what
Continuum does with it (``len``, ``shape``, ``x[i]`` an image, ``x[indices]`` a subset) but holds row
indices only: an image is read from the page cache when it is asked for. ``np.asarray(x)`` (Continuum's
rehearsal ``add_samples`` concatenates) copies the rows out. ``inputs`` holds the paper's model inputs
of the same rows computed once (:class:`conversion.uses.model_inputs.MappedRows`, by preprocess name).
"""

from __future__ import annotations

import numpy as np

from conversion.uses.uint8_batches import ArrowBatches


class DecodedRows:
    """Rows ``index`` (default all) of the uint8 ``[3, H, W]`` ``image`` column behind ``batches``, as HxWx3;
    ``inputs``: preprocess name -> the same rows' cached inputs (indexed like ``batches``)."""

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, batches: ArrowBatches, index: np.ndarray | None = None, inputs: dict | None = None):
        self.batches = batches
        self.inputs = inputs or {}
        self.index = np.arange(len(batches), dtype=np.int64) if index is None else index
        channels, height, width = batches.ds.features["image"].shape
        self.shape = (len(self.index), height, width, channels)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self.batches.row("image", int(self.index[key])).transpose(1, 2, 0)
        return DecodedRows(self.batches, self.index[key], self.inputs)

    def __array__(self, dtype=None, copy=None):
        rows = self.batches.gather("image", self.index).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(rows, dtype=dtype)
