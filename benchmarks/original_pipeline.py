"""A faithful re-implementation of the original CL release's three-step conversion (docs/release.md#pixel-pipeline).

Step 1 decodes every source image and saves it as PNG: AI images after ``resize((64, 64))``,
natural images at full size (RGB). Step 2 re-opens every PNG, applies the torchvision-style
transforms (natural: Resize(64) bilinear + CenterCrop(64); both: ToTensor, Normalize) and keeps a
whole (generator, task, split, source) group in memory. Step 3 stacks the group and saves
``X.pt`` (float32 [N, 3, 64, 64]) and ``y.pt`` (int64 clsloc id - 1) with ``torch.save``.
It exists to be timed against our builder; the pixel rules come from conversion.pixels.release_pipeline.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from conversion.contract import tables
from conversion.pixels import release_pipeline
from conversion.sources import raw_tree

SIZE = 64


def _png_path(work: Path, item: raw_tree.Item, split: str) -> Path:
    source = tables.SOURCES[item.source]
    return work / "png" / item.generator / f"task{item.task}" / split / source / (Path(item.file_name).stem + ".png")


def step1_save_png(item: raw_tree.Item, split: str, work: Path) -> Path:
    """Decode the source image and save it as PNG (AI: resized to 64; natural: full size, RGB)."""
    target = _png_path(work, item, split)
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(item.path) as image:
        if tables.SOURCES[item.source] == "ai":
            image.resize((SIZE, SIZE)).save(target, format="PNG")
        else:
            image.convert("RGB").save(target, format="PNG")
    return target


def step2_tensor(png: Path, source: str, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Re-open the PNG, transform as torchvision would, ToTensor and Normalize."""
    with Image.open(png) as image:
        rgb = image.convert("RGB")
    if source == "nature":
        width, height = release_pipeline.resized_size(*rgb.size, SIZE)
        rgb = rgb.resize((width, height), Image.Resampling.BILINEAR).crop(
            release_pipeline.center_crop_box(width, height, SIZE))
    tensor = torch.from_numpy(np.array(rgb)).permute(2, 0, 1).contiguous().float().div(255)
    return tensor.sub_(mean).div_(std)


def convert(items_per_split: dict[str, list[raw_tree.Item]], work: str | Path) -> int:
    """Run the three steps over the items; returns the number of images written to ``X.pt`` files."""
    work = Path(work)
    release = tables.release_pixels()
    mean = torch.tensor(release["mean"]).view(3, 1, 1)
    std = torch.tensor(release["std"]).view(3, 1, 1)
    clsloc = tables.clsloc_of_label()
    written = 0
    for split, items in items_per_split.items():
        pngs = [(item, step1_save_png(item, split, work)) for item in items]
        group_key = lambda pair: (pair[0].generator, pair[0].task, pair[0].source)  # noqa: E731
        for (generator, task, source_id), group in itertools.groupby(sorted(pngs, key=group_key), key=group_key):
            group = list(group)
            source = tables.SOURCES[source_id]
            xs = [step2_tensor(png, source, mean, std) for _, png in group]
            ys = [clsloc[item.label] - 1 for item, _ in group]
            out = work / "tensors" / generator / f"task{task}" / split / source
            out.mkdir(parents=True, exist_ok=True)
            torch.save(torch.stack(xs), out / "X.pt")
            torch.save(torch.tensor(ys, dtype=torch.int64), out / "y.pt")
            written += len(xs)
    return written
