"""Write an original-style CL tensor release from a GenImage tree (docs/release.md#files).

The release pipeline is re-done step by step: the release pixels of every image, then ToTensor
(HWC uint8 -> CHW float32 / 255) and Normalize (``(x - mean) / std`` in float32 torch ops), stacked
into ``X.pt``; ``y.pt`` is int64 clsloc id - 1. Rows are written in a seeded shuffled order, as the
original scripts wrote them in file-system order. Used by the tests and the publish demo.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from conversion.contract import configs, tables
from conversion.pixels import corruption_recipe, release_pipeline
from conversion.sources import raw_tree
from conversion.sources.generator_folders import SPLIT_FOLDERS

# numpy, torch and Pillow are imported where used: the sample-release command's help (which lists
# RELEASE_LAYOUTS) stays quick.
if TYPE_CHECKING:
    import torch
    from PIL import Image

RELEASE_LAYOUTS = {
    "original": "processedSingleGenerators/{top}/single_generator/{task}/{split_folder}/{source}",
    "keys": "{key}/task{task}/{split}/{source}",
    "named": "genimage_cl_release/{display}/task_{task}/{split_folder}/{source}",
}
"""Folder of each tensor pair: the original scripts' output, and two plausible renamings."""
DISJOINT_LAYOUTS = {
    "original": "processedSingleGenerators/{top}/disjoint/test/{source}",
    "keys": "{key}/disjoint/test/{source}",
    "named": "genimage_cl_release/{display}/disjoint/test/{source}",
}
"""Where the corruption script writes Disjoint parts' corrupted copies (docs/paper-loader.md#corrupted-test-copies)."""
BESIDE_X = ("gaussian_noise", "saturate")
"""Corrupted copies written beside X.pt/y.pt (as the loaders read them); the others go to DISJOINT_LAYOUTS."""


def release_folder(root: Path, layout: str, generator: str, task: int, split: str, source: str) -> Path:
    g = tables.generators()[generator]
    relative = RELEASE_LAYOUTS[layout].format(
        top=g.top_folder, key=generator, display=g.display_name, task=task, split=split,
        split_folder=SPLIT_FOLDERS[split], source=source,
    )
    return root / relative


def write_corrupted_copies(out_root: Path, layout: str, generator: str, task: int, source: str, x: torch.Tensor,
                           names=corruption_recipe.CORRUPTIONS) -> None:
    """The corruption script's ``X_<corruption>.pt`` of one test part, made with the recipe, in both layouts."""
    import torch

    g = tables.generators()[generator]
    for name in names:
        if name in BESIDE_X:
            folder = release_folder(out_root, layout, generator, task, "test", source)
        else:
            folder = out_root / DISJOINT_LAYOUTS[layout].format(top=g.top_folder, key=generator,
                                                                display=g.display_name, source=source)
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(corruption_recipe.corrupt(x, name), folder / f"X_{name}.pt")


def to_tensor_normalized(image: Image.Image) -> torch.Tensor:
    """torchvision's ToTensor then Normalize, written out on the release's constants."""
    import torch

    chw = torch.from_numpy(release_pipeline.chw_uint8(image).copy())
    x = chw.to(torch.float32).div(255)
    mean, std = release_pipeline.normalization()
    return x.sub_(mean).div_(std)


def make_sample_release(
    tree_root: str | os.PathLike,
    out_root: str | os.PathLike,
    layout: str = "original",
    generators: list[str] | None = None,
    seed: int = 0,
    corrupted: bool = False,
) -> Path:
    """Write ``X.pt``/``y.pt`` for every (generator, task, split, source) of the tree; return ``out_root``.

    With ``corrupted``, the GenImage-Disjoint test parts (task k of the k-th generator of the task
    order) also get the four corrupted copies, made with the release's recipe.
    """
    import numpy as np
    import torch
    from PIL import Image

    if layout not in RELEASE_LAYOUTS:
        raise ValueError(f"layout must be one of {sorted(RELEASE_LAYOUTS)}, got {layout!r}")
    out_root = Path(out_root)
    size = tables.release_pixels()["image_size"]
    clsloc = tables.clsloc_of_label()
    keys = list(tables.task_order()) if generators is None else generators
    listing = raw_tree.scan(tree_root, keys)
    for key in keys:
        g_index = tables.generator_index(key)
        parts = [(key, t) for t in range(configs.NUM_TASKS)]
        for split in SPLIT_FOLDERS:
            items = raw_tree.plan(listing, split, parts).items
            for task in range(configs.NUM_TASKS):
                for source_id, source in enumerate(tables.SOURCES):
                    cell = [i for i in items if i.task == task and i.source == source_id]
                    order = np.random.default_rng([seed, g_index, task, source_id, len(split)]).permutation(len(cell))
                    images, labels = [], []
                    for item in (cell[i] for i in order):
                        with Image.open(item.path) as image:
                            images.append(to_tensor_normalized(release_pipeline.release_pixels(image, source, size)))
                        labels.append(clsloc[item.label] - 1)
                    folder = release_folder(out_root, layout, key, task, split, source)
                    folder.mkdir(parents=True, exist_ok=True)
                    x = torch.stack(images) if images else torch.empty((0, 3, size, size), dtype=torch.float32)
                    torch.save(x, folder / "X.pt")
                    torch.save(torch.tensor(labels, dtype=torch.int64), folder / "y.pt")
                    if corrupted and split == "test" and tables.task_order()[task] == key:
                        write_corrupted_copies(out_root, layout, key, task, source, x)
    return out_root
