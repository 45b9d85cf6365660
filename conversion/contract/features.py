"""The contract's columns (docs/contract.md#columns) as ``datasets.Features``."""

from __future__ import annotations

import datasets

from conversion.contract import tables


def features() -> datasets.Features:
    return datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=list(tables.wnids())),
            "task_label": datasets.Value("int32"),
            "source": datasets.ClassLabel(names=list(tables.SOURCES)),
            "generator": datasets.ClassLabel(names=list(tables.generators())),
            "task": datasets.Value("int32"),
            "file_name": datasets.Value("string"),
        }
    )
