"""The paper's model inputs computed once: float32 rows cached by datasets, read as views of the cache file.

:func:`computed` turns the decoded uint8 ``image`` column into one of the paper's inputs
(:mod:`conversion.uses.paper_inputs`: ``unit``, ``normalized``, ``unnormalized``) with ``Dataset.map``:
datasets caches the float32 rows next to the decoded column (4 times its bytes: 49,152 bytes a 64-px
image, 490 MB for 10,000) and finds them again on the next run. :class:`MappedRows` hands out each row as
a tensor viewing that file, no copy: a batch costs only the stack that torch's default collate makes,
the copy the paper's in-memory ``TensorDataset`` makes too (benchmarks/README.md, group h).

The file is mapped copy-on-write (``mmap`` ``MAP_PRIVATE``, once per process: DataLoader workers map it
again): a row written to in place changes this process's copy only, never the cache.
"""

from __future__ import annotations

import datasets
import numpy as np
import pyarrow as pa
import torch

from conversion.uses import paper_inputs, uint8_batches


def _inputs_batch(batch: pa.Table, preprocess: str, shape: tuple[int, ...]) -> dict:
    pixels = uint8_batches.flat_values(batch.column("image").combine_chunks()).reshape(batch.num_rows, *shape)
    return {"image": paper_inputs.transform(preprocess)(torch.from_numpy(pixels.copy())).numpy()}


def computed(decoded: datasets.Dataset, preprocess: str, num_proc: int | None = None) -> datasets.Dataset:
    """The ``image`` column of ``decoded`` (uint8 ``[3, H, W]``, :func:`conversion.uses.uint8_batches.decoded_uint8`)
    as the float32 input ``preprocess`` (a key of :data:`conversion.uses.paper_inputs.PREPROCESS`), alone,
    cached by datasets."""
    paper_inputs.transform(preprocess)  # a named error for an unknown name, before datasets runs anything
    shape = tuple(decoded.features["image"].shape)
    return decoded.select_columns(["image"]).with_format("arrow").map(
        _inputs_batch,
        batched=True,
        batch_size=256,
        fn_kwargs={"preprocess": preprocess, "shape": shape},
        features=datasets.Features({"image": datasets.Array3D(shape=shape, dtype="float32")}),
        num_proc=num_proc,
        desc=f"computing the {preprocess} inputs",
    )


def _file_rows(path: str, shape: tuple[int, ...]) -> list[torch.Tensor]:
    """The ``image`` column of each record batch of the Arrow stream file ``path`` as a float32 tensor
    ``[rows, *shape]`` viewing a private copy-on-write mapping of the file."""
    source = pa.memory_map(path)
    base = source.read_buffer(1).address
    source.seek(0)
    mapped = np.memmap(path, dtype=np.uint8, mode="c")
    tensors = []
    for batch in pa.ipc.open_stream(source):
        values = uint8_batches.flat_values(batch.column("image"))
        start = values.ctypes.data - base
        window = mapped[start : start + values.nbytes].view(np.float32)
        tensors.append(torch.from_numpy(window.reshape(batch.num_rows, *shape)))
    return tensors


class MappedRows:
    """Rows of the float32 ``image`` column of ``inputs`` (made by :func:`computed`) as tensors that view
    the cache file, no copy. ``inputs`` must read its rows from its cache files, in order (what
    :func:`computed` returns for a dataset on disk); an in-memory one is held as one tensor instead."""

    def __init__(self, inputs: datasets.Dataset):
        self.inputs = inputs
        self.shape = tuple(inputs.features["image"].shape)
        self._chunks = None

    def __len__(self) -> int:
        return len(self.inputs)

    def _map(self):
        files = [entry["filename"] for entry in self.inputs.cache_files]
        chunks = [chunk for path in files for chunk in _file_rows(path, self.shape)] if files else []
        if sum(len(chunk) for chunk in chunks) != len(self.inputs):  # not read from its files in order
            chunks = [torch.from_numpy(self.inputs.with_format("numpy")[:]["image"].astype(np.float32))]
        self._starts = np.cumsum([0] + [len(chunk) for chunk in chunks])[:-1]
        self._chunks = chunks

    def row(self, index: int) -> torch.Tensor:
        return self.rows([index])[0]

    def rows(self, indices) -> list[torch.Tensor]:
        """Rows ``indices``, each a ``[*shape]`` float32 tensor viewing the mapped file."""
        if self._chunks is None:
            self._map()
        indices = np.asarray(indices, dtype=np.int64)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            bad = indices[(indices < 0) | (indices >= len(self))][0]
            raise IndexError(f"row {bad} out of range for {len(self)} rows")
        chunk_of = np.searchsorted(self._starts, indices, side="right") - 1
        within = indices - self._starts[chunk_of]
        chunks = self._chunks
        return [chunks[c][r] for c, r in zip(chunk_of.tolist(), within.tolist())]

    def __getstate__(self):
        return {**self.__dict__, "_chunks": None}
