"""Training-speed loading of fixed-size images: decode once into a uint8 column, then read batches.

``decoded_uint8(ds)`` turns the PNG ``image`` column into a ``uint8`` ``Array3D`` of shape
``(3, H, W)`` with ``Dataset.map``: datasets caches the result next to the dataset's own Arrow
files and memory-maps it, so the decode is paid once and later runs (and DataLoader workers) read
pixels straight from the page cache. ``batch_loader`` reads each batch of rows with one numpy
gather from those memory-mapped pixels (see ``ArrowBatches``).

Example::

    from conversion.decoded import batch_loader, decoded_uint8
    train = decoded_uint8(builder.as_dataset("train"))
    for batch in batch_loader(train, batch_size=256, num_workers=2):
        x = batch["image"]  # torch.uint8 [256, 3, 64, 64]
"""

from __future__ import annotations

import io

import datasets
import numpy as np
import pyarrow as pa
from PIL import Image


def _image_size(ds: datasets.Dataset) -> tuple[int, int]:
    if len(ds) == 0:
        raise ValueError("cannot decode an empty dataset (no image to take the size from)")
    return ds[0]["image"].size


def _decode_batch(batch: dict, width: int, height: int) -> dict:
    pixels = np.empty((len(batch["image"]), 3, height, width), dtype=np.uint8)
    for i, image in enumerate(batch["image"]):
        if image.size != (width, height):
            raise ValueError(f"images must all be {width}x{height} (use a 64-px config), found {image.size}")
        pixels[i] = np.asarray(image if image.mode == "RGB" else image.convert("RGB")).transpose(2, 0, 1)
    return {"image": pixels}


def decoded_uint8(ds: datasets.Dataset, num_proc: int | None = None, batch_size: int = 1000) -> datasets.Dataset:
    """``ds`` with ``image`` decoded to uint8 ``[3, H, W]``, cached and memory-mapped by datasets."""
    width, height = _image_size(ds)
    features = ds.features.copy()
    features["image"] = datasets.Array3D(shape=(3, height, width), dtype="uint8")
    return ds.map(
        _decode_batch,
        batched=True,
        batch_size=batch_size,
        fn_kwargs={"width": width, "height": height},
        features=features,
        num_proc=num_proc,
        desc="decoding images to uint8",
    )


class ArrowBatches:
    """Map-style torch dataset whose item ``[i0, i1, ...]`` is a whole batch of rows as tensors.

    Numeric columns (``Array2D``/``Array3D`` or plain numbers) are read as numpy views of the
    memory-mapped Arrow record batches, made once per process (so also once per DataLoader
    worker), and gathered with numpy fancy indexing: no per-row Python objects, no int64 widening
    (datasets' torch and numpy formatters widen every integer array to int64, 8x the bytes of
    uint8 pixels). ``Image`` columns of same-size images are decoded straight from their stored
    bytes into one uint8 ``[n, 3, H, W]`` array. Other columns (strings) are left out.
    """

    def __init__(self, ds: datasets.Dataset):
        if getattr(ds, "_indices", None) is not None:
            ds = ds.flatten_indices()
        self.ds = ds
        self.columns = {name: kind for name, feature in ds.features.items() if (kind := _kind(feature))}
        self._views = None

    def __len__(self) -> int:
        return len(self.ds)

    def _make_views(self):
        table = self.ds.data.table
        self._starts = np.cumsum([0] + [batch.num_rows for batch in table.to_batches()])[:-1]
        self._views = {}
        for name, kind in self.columns.items():
            chunks = table.column(name).chunks
            if kind == "image":
                self._views[name] = [chunk.field("bytes") for chunk in chunks]
            else:
                shape = getattr(self.ds.features[name], "shape", ())
                self._views[name] = [
                    _flat_values(chunk.storage if shape else chunk).reshape(len(chunk), *shape) for chunk in chunks
                ]

    def __getitem__(self, indices) -> dict:
        import torch

        if self._views is None:
            self._make_views()
        indices = np.asarray(indices, dtype=np.int64)
        chunk_of = np.searchsorted(self._starts, indices, side="right") - 1
        rows = indices - self._starts[chunk_of]
        batch = {}
        for name, views in self._views.items():
            if self.columns[name] == "image":
                out = _decode_images([views[c][r].as_py() for c, r in zip(chunk_of, rows)])
            else:
                out = np.empty((len(indices), *views[0].shape[1:]), dtype=views[0].dtype)
                for chunk in np.unique(chunk_of):
                    selected = chunk_of == chunk
                    out[selected] = views[chunk][rows[selected]]
            batch[name] = torch.from_numpy(out)
        return batch

    def __getstate__(self):
        return {**self.__dict__, "_views": None}


def _kind(feature) -> str | None:
    if isinstance(feature, datasets.Image):
        return "image"
    if isinstance(feature, (datasets.Array2D, datasets.Array3D, datasets.Array4D, datasets.Array5D)):
        return "array"
    if isinstance(feature, datasets.ClassLabel):
        return "number"
    if isinstance(feature, datasets.Value) and (pa.types.is_integer(feature.pa_type) or pa.types.is_floating(feature.pa_type)):
        return "number"
    return None


def _decode_images(encoded: list[bytes]) -> np.ndarray:
    """Decode same-size images to one uint8 [n, 3, H, W] array."""
    out = None
    for i, data in enumerate(encoded):
        if data is None:
            raise ValueError("image stored as a path, not bytes: load it with datasets' own formatting")
        with Image.open(io.BytesIO(data)) as image:
            pixels = np.asarray(image if image.mode == "RGB" else image.convert("RGB")).transpose(2, 0, 1)
        if out is None:
            out = np.empty((len(encoded), *pixels.shape), dtype=np.uint8)
        elif pixels.shape != out.shape[1:]:
            raise ValueError(f"images in a batch must have one size (use a 64-px config), found {pixels.shape[1:]}")
        out[i] = pixels
    return out if out is not None else np.empty((0, 3, 0, 0), dtype=np.uint8)


def _flat_values(array: pa.Array) -> np.ndarray:
    """The primitive values of a (nested list) array in row order, a view of the mapped file."""
    while pa.types.is_list(array.type):
        array = array.flatten()
    return array.to_numpy(zero_copy_only=True)


def batch_loader(ds: datasets.Dataset, batch_size: int = 256, shuffle: bool = True, num_workers: int = 0,
                 seed: int = 0, **kwargs):
    """A torch DataLoader over the image and numeric columns of ``ds``, one ``ArrowBatches`` call per batch.

    Works on a 64-px config as built (PNGs decoded per batch) and, faster, on ``decoded_uint8(ds)``.
    """
    import torch
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

    batches = ArrowBatches(ds)
    order = RandomSampler(batches, generator=torch.Generator().manual_seed(seed)) if shuffle else SequentialSampler(batches)
    sampler = BatchSampler(order, batch_size=batch_size, drop_last=False)
    return DataLoader(batches, sampler=sampler, batch_size=None, num_workers=num_workers, **kwargs)
