"""A task view as a plain ``torch.utils.data.Dataset`` of (image, target) pairs with ``targets``.

CL libraries built on torchvision conventions (Avalanche's ``as_classification_dataset``,
Continuum's task sets) take such datasets rather than dict rows.
"""

from __future__ import annotations

import torch


class Pairs(torch.utils.data.Dataset):
    """(uint8 CxHxW image tensor, int target) for each row of ``view``.

    Args:
        view: a split or task view (``datasets.Dataset``) with the contract's columns.
        target: ``"task_label"`` (0..99 within the task) or ``"label"`` (standard ImageNet index).
        transform: optional callable applied to the image tensor.
    """

    def __init__(self, view, target: str = "task_label", transform=None):
        if target not in ("task_label", "label"):
            raise ValueError(f"target must be 'task_label' or 'label', got {target!r}")
        self.view = view.with_format("torch", columns=["image", target])
        self.target = target
        self.transform = transform
        self.targets = view.select_columns([target]).with_format("numpy")[:][target].tolist()

    def __len__(self) -> int:
        return len(self.view)

    def __getitem__(self, index: int):
        row = self.view[index]
        image = row["image"]
        return (self.transform(image) if self.transform else image), int(row[self.target])
