"""Training-speed loading of fixed-size images: decode once into a uint8 column, then read batches.

``decoded_uint8(ds)`` turns the PNG ``image`` column into a ``uint8`` ``Array3D`` of shape
``(3, H, W)`` with ``Dataset.map``: datasets caches the result next to the dataset's own Arrow
files and memory-maps it, so the decode is paid once and later runs (and DataLoader workers) read
pixels straight from the page cache. ``batch_loader`` reads each batch of rows with one numpy
gather from those memory-mapped pixels (see ``ArrowBatches``).

Every stored image is checked from its header before it is decoded (an image, within the
decompression-bomb and side limits of :mod:`conversion.pixels.decode`, of the size of the rows before it);
an error names the row, its ``file_name`` and the cache file holding it (:func:`describe_row`).

Example::

    from conversion.uses.uint8_batches import batch_loader, decoded_uint8
    train = decoded_uint8(builder.as_dataset("train"))
    for batch in batch_loader(train, batch_size=256, num_workers=2):
        x = batch["image"]  # torch.uint8 [256, 3, 64, 64]
"""

from __future__ import annotations

import datasets
import numpy as np
import pyarrow as pa
from datasets.table import ConcatenationTable
from PIL import Image

from conversion.builder.build_report import printable
from conversion.pixels import decode, release_pipeline

ONE_SIZE = "images must all have one size: use a 64-px config (the release's) or one built with one image_size"


class BadRow(ValueError):
    """A row whose stored image is refused before decoding: its row index in the dataset and why."""

    def __init__(self, row: int, reason: str):
        super().__init__(row, reason)  # the arguments, so that it pickles back from a worker process
        self.row, self.reason = row, reason

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


def _cache_file(table, row: int) -> str | None:
    """The Arrow file holding row ``row`` of ``table`` (datasets' memory-mapped blocks), if it has one."""
    blocks = table.blocks if isinstance(table, ConcatenationTable) else [[table]]
    for row_blocks in blocks:
        if row < row_blocks[0].num_rows:
            return getattr(row_blocks[0], "path", None)
        row -= row_blocks[0].num_rows
    return None


def describe_row(ds: datasets.Dataset, row: int) -> str:
    """Row ``row`` of ``ds`` named for an error: its index, ``file_name`` and the cache file holding it."""
    indices = getattr(ds, "_indices", None)
    table_row = indices.column(0)[row].as_py() if indices is not None else row
    where = _cache_file(ds.data, table_row) or "an in-memory dataset"
    name = ds.select_columns(["file_name"])[row]["file_name"] if "file_name" in ds.column_names else None
    return f"row {row}{f' ({printable(name)})' if name else ''} of the dataset in {printable(where)}"


def image_header(data: bytes | None, size: tuple[int, int] | None = None) -> Image.Image:
    """The stored image ``data`` with its header read, not decoded; ``ValueError`` with the reason if it is
    no image, a bomb (:mod:`conversion.pixels.decode`'s limits) or not ``size`` (width, height) when given.
    Call it within ``decode.strict_pillow()``, so that those limits hold whatever Pillow's settings."""
    if data is None:
        raise ValueError("image stored as a path, not bytes: load it with datasets' own formatting")
    try:
        image = decode.open_header(data)
    except (decode.Unreadable, Image.DecompressionBombError) as err:
        raise ValueError(str(err)) from None
    if max(image.size) > decode.MAX_SIDE:
        image.close()
        raise ValueError(f"aspect-ratio bomb: {image.width}x{image.height}, a side over the limit of {decode.MAX_SIDE}")
    if size is not None and image.size != tuple(size):
        image.close()
        raise ValueError(f"{image.width}x{image.height} where the rows before it are {size[0]}x{size[1]}: {ONE_SIZE}")
    return image


def rgb_pixels(data: bytes | None, size: tuple[int, int] | None = None) -> np.ndarray:
    """uint8 ``[3, H, W]`` RGB pixels of the stored image ``data``
    (:func:`conversion.pixels.release_pipeline.chw_uint8`),
    checked from its header first (:func:`image_header`)."""
    with decode.strict_pillow(), image_header(data, size) as image:
        try:
            return release_pipeline.chw_uint8(image)
        except (OSError, SyntaxError, ValueError, EOFError) as err:
            raise ValueError(f"corrupt image: {err or type(err).__name__}") from None


def _image_size(raw: datasets.Dataset) -> tuple[int, int]:
    """(width, height) of the first row's image, from its header."""
    if len(raw) == 0:
        raise ValueError("cannot decode an empty dataset (no image to take the size from)")
    try:
        with decode.strict_pillow(), image_header(raw[0]["image"]["bytes"]) as image:
            return image.size
    except ValueError as err:
        raise BadRow(0, str(err)) from None


def _decode_batch(batch: dict, indices: list[int], width: int, height: int) -> dict:
    pixels = np.empty((len(batch["image"]), 3, height, width), dtype=np.uint8)
    for i, (row, image) in enumerate(zip(indices, batch["image"])):
        try:
            pixels[i] = rgb_pixels(image["bytes"], (width, height))
        except ValueError as err:
            raise BadRow(row, str(err)) from None
    return {"image": pixels}


def decoded_uint8(ds: datasets.Dataset, num_proc: int | None = None, batch_size: int = 1000) -> datasets.Dataset:
    """``ds`` with ``image`` decoded to uint8 ``[3, H, W]``, cached and memory-mapped by datasets.

    A row whose image is no image, a bomb or of another size than the first row's is a ``ValueError``
    naming it (:func:`describe_row`), raised before it is decoded.
    """
    raw = ds.cast_column("image", datasets.Image(decode=False))
    features = ds.features.copy()
    try:
        width, height = _image_size(raw)
        features["image"] = datasets.Array3D(shape=(3, height, width), dtype="uint8")
        return raw.map(
            _decode_batch,
            batched=True,
            batch_size=batch_size,
            with_indices=True,
            fn_kwargs={"width": width, "height": height},
            features=features,
            num_proc=num_proc,
            desc="decoding images to uint8",
        )
    except BadRow as err:
        raise ValueError(f"{describe_row(ds, err.row)}: {err.reason}") from None


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
                    flat_values(chunk).reshape(len(chunk), *shape) for chunk in chunks
                ]

    def __getitem__(self, indices) -> dict:
        import torch

        return {name: torch.from_numpy(self.gather(name, indices)) for name in self.columns}

    def gather(self, name: str, indices) -> np.ndarray:
        """Column ``name`` of rows ``indices`` as one new numpy array."""
        if self._views is None:
            self._make_views()
        indices = np.asarray(indices, dtype=np.int64)
        chunk_of = np.searchsorted(self._starts, indices, side="right") - 1
        rows = indices - self._starts[chunk_of]
        views = self._views[name]
        if self.columns[name] == "image":
            try:
                return _decode_images([views[c][r].as_py() for c, r in zip(chunk_of, rows)], indices)
            except BadRow as err:
                raise ValueError(f"{describe_row(self.ds, err.row)}: {err.reason}") from None
        out = np.empty((len(indices), *views[0].shape[1:]), dtype=views[0].dtype)
        for chunk in np.unique(chunk_of):
            selected = chunk_of == chunk
            out[selected] = views[chunk][rows[selected]]
        return out

    def row(self, name: str, index: int) -> np.ndarray:
        """Array column ``name`` of row ``index``: a read-only view of the memory-mapped file, no copy."""
        if self._views is None:
            self._make_views()
        chunk = int(np.searchsorted(self._starts, index, side="right")) - 1
        return self._views[name][chunk][index - self._starts[chunk]]

    def __getstate__(self):
        return {**self.__dict__, "_views": None}


def _kind(feature) -> str | None:
    if isinstance(feature, datasets.Image):
        return "image"
    if isinstance(feature, (datasets.Array2D, datasets.Array3D, datasets.Array4D, datasets.Array5D)):
        return "array"
    if isinstance(feature, datasets.ClassLabel):
        return "number"
    if isinstance(feature, datasets.Value) and (pa.types.is_integer(feature.pa_type)
                                                or pa.types.is_floating(feature.pa_type)):
        return "number"
    return None


def _decode_images(encoded: list[bytes], rows) -> np.ndarray:
    """Decode same-size images (of dataset rows ``rows``) to one uint8 [n, 3, H, W] array; :class:`BadRow`
    for a row refused from its header."""
    out = None
    for i, (row, data) in enumerate(zip(rows, encoded)):
        try:
            pixels = rgb_pixels(data, None if out is None else (out.shape[3], out.shape[2]))
        except ValueError as err:
            raise BadRow(int(row), str(err)) from None
        if out is None:
            out = np.empty((len(encoded), *pixels.shape), dtype=np.uint8)
        out[i] = pixels
    return out if out is not None else np.empty((0, 3, 0, 0), dtype=np.uint8)


def flat_values(array: pa.Array) -> np.ndarray:
    """The primitive values of a (nested list, or datasets' array extension) array in row order, a read-only
    view of its buffer (of the mapped file, for datasets' cache)."""
    array = array.storage if isinstance(array, pa.ExtensionArray) else array
    while pa.types.is_list(array.type) or pa.types.is_fixed_size_list(array.type):
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
    order = (RandomSampler(batches, generator=torch.Generator().manual_seed(seed)) if shuffle
             else SequentialSampler(batches))
    sampler = BatchSampler(order, batch_size=batch_size, drop_last=False)
    return DataLoader(batches, sampler=sampler, batch_size=None, num_workers=num_workers, **kwargs)
