"""A small, deterministic GenImage-like tree that follows the real naming exactly.

File names are made from each generator's example name in ``dictionaries/generators.json`` (same
tokens, same zero padding, same extension case); natural names use ImageNet's train
``<wnid>_<n>.JPEG`` and val ``ILSVRC2012_val_<8 digits>.JPEG`` notations, with val numbers whose
ILSVRC2015 ground truth is the intended class. Images are smooth noise textures: natural JPEGs
of ImageNet-like sizes and aspect ratios (one smaller than 64 px, one grayscale), AI PNGs at the
generator's size divided by ``ai_scale`` (one RGBA and one palette image per folder).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
from PIL import Image

from conversion import tables

LAYOUTS = ("nested", "inner", "raw")
"""``<Top>/<inner>/``, ``<inner>/``, and the original CL scripts' ``<Top>/raw/``."""

NATURAL_SIZES = ((500, 375), (375, 500), (500, 333), (640, 480), (500, 500), (333, 500), (48, 40))
SPLIT_FOLDERS = {"train": "train", "test": "val"}


def generator_folder(root: Path, generator: tables.Generator, layout: str) -> Path:
    if layout == "nested":
        return root / generator.top_folder / generator.inner_folder
    if layout == "inner":
        return root / generator.inner_folder
    if layout == "raw":
        return root / generator.top_folder / "raw"
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def ai_file_name(generator: tables.Generator, label: int, number: int) -> str:
    """The generator's example name with its class and image-number tokens replaced."""
    stem, ext = generator.ai_example.rsplit(".", 1)
    tokens = stem.split("_")
    i = len(tokens) - 2
    class_width = len(tokens[i - 1]) if tokens[i - 1].startswith("0") else 1
    number_width = len(tokens[i + 1]) if tokens[i + 1].startswith("0") else 1
    tokens[i - 1] = f"{label:0{class_width}d}"
    tokens[i + 1] = f"{number:0{number_width}d}"
    return "_".join(tokens) + "." + ext


@functools.lru_cache(maxsize=None)
def val_numbers_of_label() -> dict[int, list[int]]:
    numbers: dict[int, list[int]] = {}
    for n, label in enumerate(tables.val_labels(), start=1):
        numbers.setdefault(label, []).append(n)
    return numbers


def nature_file_name(label: int, split: str, number: int) -> str:
    if split == "train":
        return f"{tables.wnids()[label]}_{number + 1}.JPEG"
    return f"ILSVRC2012_val_{val_numbers_of_label()[label][number]:08d}.JPEG"


def texture(rng: np.random.Generator, width: int, height: int, channels: int = 3) -> np.ndarray:
    """Smooth colour noise with some fine grain: resizing it changes pixels in a visible way."""
    coarse = rng.integers(0, 256, size=(max(height // 16, 2), max(width // 16, 2), channels), dtype=np.uint8)
    image = Image.fromarray(coarse.squeeze(-1) if channels == 1 else coarse).resize((width, height), Image.BICUBIC)
    grain = rng.integers(-12, 13, size=np.asarray(image).shape)
    return np.clip(np.asarray(image, dtype=np.int16) + grain, 0, 255).astype(np.uint8)


def chosen_classes(classes_per_task: int) -> list[int]:
    """``classes_per_task`` classes of each task, plus one joint and one unused class (excluded)."""
    chosen = [label for task in tables.task_classes() for label in task[:classes_per_task]]
    used = set(tables.task_of_label()) | set(tables.joint_classes())
    unused = next(label for label in range(1000) if label not in used)
    return chosen + [tables.joint_classes()[0], unused]


def _write_ai(path: Path, rng: np.random.Generator, size: int, mode: str) -> None:
    pixels = texture(rng, size, size, 4 if mode == "RGBA" else 3)
    image = Image.fromarray(pixels, "RGBA" if mode == "RGBA" else "RGB")
    if mode == "P":
        image = image.quantize(64)
    image.save(path, format="PNG")


def _write_nature(path: Path, rng: np.random.Generator, size: tuple[int, int], gray: bool) -> None:
    pixels = texture(rng, *size, 1 if gray else 3)
    Image.fromarray(pixels).save(path, format="JPEG", quality=90)


def make_sample_tree(
    root: str | os.PathLike,
    generators: list[str] | None = None,
    layout: str = "nested",
    classes_per_task: int = 2,
    images_per_class: int = 1,
    ai_scale: int = 4,
    seed: int = 0,
) -> Path:
    """Write the tree under ``root`` and return ``root``. The same arguments give the same bytes."""
    root = Path(root)
    table = tables.generators()
    keys = list(table) if generators is None else generators
    labels = chosen_classes(classes_per_task)
    for g_index, key in enumerate(keys):
        generator = table[key]
        base = generator_folder(root, generator, layout)
        for s_index, (split, folder) in enumerate(SPLIT_FOLDERS.items()):
            rng = np.random.default_rng([seed, g_index, s_index])
            ai_dir, nature_dir = base / folder / "ai", base / folder / "nature"
            ai_dir.mkdir(parents=True, exist_ok=True)
            nature_dir.mkdir(parents=True, exist_ok=True)
            ai_size = max(generator.ai_size // ai_scale, 16)
            count = 0
            for label in labels:
                for n in range(images_per_class):
                    mode = ("RGBA", "P", "RGB")[min(count, 2)]
                    _write_ai(ai_dir / ai_file_name(generator, label, n), rng, ai_size, mode)
                    size = NATURAL_SIZES[count % len(NATURAL_SIZES)]
                    _write_nature(nature_dir / nature_file_name(label, split, n), rng, size, gray=count == 1)
                    count += 1
    return root
