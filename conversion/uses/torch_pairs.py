"""A task view as a plain ``torch.utils.data.Dataset`` of (image, target) pairs with ``targets``.

CL libraries built on torchvision conventions (Avalanche's ``as_classification_dataset``,
Continuum's task sets) take such datasets rather than dict rows.

By default the images are decoded once into a uint8 column cached and memory-mapped by datasets
(:func:`conversion.uses.uint8_batches.decoded_uint8`), so an epoch reads pixels from the page cache and
memory does not grow with the view; a DataLoader gets each batch with one gather (``__getitems__``).
With one of the paper's input transforms, its float32 output is computed once and cached the same way
(:mod:`conversion.uses.model_inputs`), and rows are views of that cache.
"""

from __future__ import annotations

import numpy as np
import torch

from conversion.uses import model_inputs, paper_inputs, uint8_batches

TARGETS = ("task_label", "label", "class_il")
EXTRAS = ("position", "task", "source", "generator", "label", "task_label")
"""What ``extras`` may ask for: the stream position (given as ``position``) or a column of the view."""


class Pairs(torch.utils.data.Dataset):
    """(image, int target) for each row of ``view``, then the ``extras`` asked for.

    A view made with ``with_transform`` (e.g. torchvision v2 transforms) keeps its transform, whose
    output must hold the ``image`` key; any other view gives uint8 CxHxW tensors, from the decoded
    column (``decoded=True``, default: images of one size, e.g. any 64-px config) or decoded row by row
    from the stored files (``decoded=False``, for views of original-size images). ``transform`` and
    ``target_transform`` are applied after that. ``targets`` lists every row's final target (read from
    the label column, no image decoded).

    Args:
        view: a split or task view (``datasets.Dataset``) with the contract's columns.
        target: ``"task_label"`` (0..99 within the task), ``"label"`` (standard ImageNet index) or
            ``"class_il"`` (contiguous class-incremental id: the label's position in ``class_order``).
        transform: optional callable applied to the image, e.g. a :mod:`conversion.uses.paper_inputs`
            transform (by default computed once and cached, see ``cache_inputs``).
        target_transform: optional callable applied to the target (picklable for DataLoader workers).
        class_order: for ``"class_il"``, the standard labels in stream order (``cl.class_order(stream)``);
            default: tasks 0..5 in standard order, 600 labels.
        decoded: read the images from the cached uint8 column (decoding the view once if not cached).
        extras: names among :data:`EXTRAS` yielded as ints after the target, e.g. ``("position",
            "source")`` for replay buffers: ``(image, target, position, source)``.
        position: the view's task position in its stream, for ``extras`` holding ``"position"``.
        cache_inputs: with ``decoded`` and a :mod:`conversion.uses.paper_inputs` transform, compute its
            float32 output once into datasets' cache (4 times the decoded column's bytes on disk) and read
            rows from there (:mod:`conversion.uses.model_inputs`); False computes it for every batch.
    """

    def __init__(self, view, target: str = "task_label", transform=None, target_transform=None, class_order=None,
                 decoded: bool = True, extras=(), position: int | None = None, cache_inputs: bool = True):
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        unknown_extras = [name for name in extras if name not in EXTRAS]
        if unknown_extras:
            raise ValueError(f"extras must be among {EXTRAS}, got {unknown_extras[0]!r}")
        if "position" in extras and position is None:
            raise ValueError("extras holds 'position': pass position= (the task's place in its stream)")
        column = "label" if target == "class_il" else target
        values = self._column(view, column)
        if target == "class_il":
            if class_order is None:
                from conversion.uses import cl_libraries  # here: cl_libraries imports this module

                class_order = cl_libraries.class_order()
            place = {label: i for i, label in enumerate(class_order)}
            unknown = sorted(set(values) - set(place))
            if unknown:
                raise ValueError(f"label {unknown[0]} is not in class_order ({len(place)} labels); pass "
                                 f"class_order=cl.class_order(stream) for the stream the view comes from")
            values = [place[v] for v in values]
        self.targets = [target_transform(v) for v in values] if target_transform else values
        self.extras = [[position] * len(view) if name == "position" else self._column(view, name) for name in extras]
        custom = view.format["type"] == "custom"
        self.pixels = None
        if decoded and not custom and len(view):
            try:
                pixels = uint8_batches.decoded_uint8(view)
            except ValueError as err:
                if uint8_batches.ONE_SIZE not in str(err):
                    raise
                raise ValueError(f"{err}; or Pairs(view, decoded=False) to decode row by row") from None
            self.pixels = uint8_batches.ArrowBatches(pixels.select_columns(["image"]))
        name = paper_inputs.name_of(transform)
        self.inputs = None
        if self.pixels is not None and cache_inputs and name:
            self.inputs = model_inputs.MappedRows(model_inputs.computed(self.pixels.ds, name))
        self.view = view if custom else view.with_format("torch", columns=["image"])
        self.transform = transform

    @staticmethod
    def _column(view, name: str) -> list[int]:
        return view.select_columns([name]).with_format("numpy")[:][name].tolist() if len(view) else []

    def __len__(self) -> int:
        return len(self.view)

    def _image(self, index: int):
        if self.pixels is not None:
            return torch.from_numpy(self.pixels.row("image", index).copy())
        row = self.view[index]
        if "image" not in row:
            raise KeyError(f"the view's transform returned {sorted(row)}: Pairs needs its output to keep the "
                           f"'image' key")
        return row["image"]

    def _rest(self, index: int) -> tuple:
        return (self.targets[index], *(values[index] for values in self.extras))

    def __getitem__(self, index: int):
        if self.inputs is not None:
            return (self.inputs.row(index), *self._rest(index))
        image = self._image(index)
        return ((self.transform(image) if self.transform else image), *self._rest(index))

    def __getitems__(self, indices) -> list:
        """Rows ``indices`` at once (torch's DataLoader calls it for a batch): one gather of the decoded
        pixels, and one call of a batch-wise transform (:data:`conversion.uses.paper_inputs.BATCHED`), or
        views of the cached inputs."""
        if self.inputs is not None:
            images = self.inputs.rows(indices)
            if not self.extras:
                return list(zip(images, map(self.targets.__getitem__, indices)))
            return [(image, *self._rest(i)) for image, i in zip(images, indices)]
        if self.pixels is None:
            return [self[i] for i in indices]
        images = torch.from_numpy(self.pixels.gather("image", np.asarray(indices, dtype=np.int64)))
        if any(self.transform is batched for batched in paper_inputs.BATCHED):
            images = self.transform(images)
        elif self.transform:
            return [(self.transform(image), *self._rest(i)) for image, i in zip(images.unbind(0), indices)]
        return [(image, *self._rest(i)) for image, i in zip(images.unbind(0), indices)]
