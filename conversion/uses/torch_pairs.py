"""A task view as a plain ``torch.utils.data.Dataset`` of (image, target) pairs with ``targets``.

CL libraries built on torchvision conventions (Avalanche's ``as_classification_dataset``,
Continuum's task sets) take such datasets rather than dict rows.
"""

from __future__ import annotations

import torch

TARGETS = ("task_label", "label", "class_il")


class Pairs(torch.utils.data.Dataset):
    """(image, int target) for each row of ``view``.

    The image is the view's own: a view made with ``with_transform`` (e.g. torchvision v2
    transforms) keeps its transform, whose output must hold the ``image`` key; any other view gives
    uint8 CxHxW tensors. ``transform`` and ``target_transform`` are applied after that. ``targets``
    lists every row's final target (read from the label column, no image decoded).

    Args:
        view: a split or task view (``datasets.Dataset``) with the contract's columns.
        target: ``"task_label"`` (0..99 within the task), ``"label"`` (standard ImageNet index) or
            ``"class_il"`` (contiguous class-incremental id: the label's position in ``class_order``).
        transform: optional callable applied to the image.
        target_transform: optional callable applied to the target (picklable for DataLoader workers).
        class_order: for ``"class_il"``, the standard labels in stream order (``cl.class_order(stream)``);
            default: tasks 0..5 in standard order, 600 labels.
    """

    def __init__(self, view, target: str = "task_label", transform=None, target_transform=None, class_order=None):
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        column = "label" if target == "class_il" else target
        values = view.select_columns([column]).with_format("numpy")[:][column].tolist() if len(view) else []
        if target == "class_il":
            if class_order is None:
                from conversion.uses import cl_libraries  # here: cl_libraries imports this module

                class_order = cl_libraries.class_order()
            position = {label: i for i, label in enumerate(class_order)}
            unknown = sorted(set(values) - set(position))
            if unknown:
                raise ValueError(f"label {unknown[0]} is not in class_order ({len(position)} labels); pass "
                                 f"class_order=cl.class_order(stream) for the stream the view comes from")
            values = [position[v] for v in values]
        self.targets = [target_transform(v) for v in values] if target_transform else values
        custom = view.format["type"] == "custom"
        self.view = view if custom else view.with_format("torch", columns=["image"])
        self.transform = transform

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, index: int):
        row = self.view[index]
        if "image" not in row:
            raise KeyError(f"the view's transform returned {sorted(row)}: Pairs needs its output to keep the "
                           f"'image' key")
        image = row["image"]
        return (self.transform(image) if self.transform else image), self.targets[index]
