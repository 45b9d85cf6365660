"""Figures for the dataset card, drawn from the data with Pillow (no plotting library).

* one sample grid per generator: pairs of images of the same class, natural next to AI-generated,
  with the class's readable name under each pair;
* one class-balance chart per (generator, task): images per class in ``task_label`` order, a
  natural and an AI bar for each class, with the smallest and largest counts in the title.

A (generator, task) pair holds the same rows in every config, so the files are named by generator
and task (``samples-sdv14.png``, ``balance-sdv14-task0.png``) and one set serves every config.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from conversion import atomic_files
from conversion.contract import tables

CELL = 96
"""Side of one image in a sample grid (64 px images are enlarged with nearest-neighbour)."""
PAIRS_PER_ROW = 4
BACKGROUND = (255, 255, 255)
INK = (33, 37, 41)
GRID_LINE = (222, 226, 230)
SOURCE_COLOURS = {"nature": (46, 125, 50), "ai": (211, 84, 0)}
SLOT = 7
"""Width of one class in a balance chart: a natural bar, an AI bar (3 px each) and a 1 px gap."""


@dataclass(frozen=True)
class GridGeometry:
    """Where each image of a sample grid sits, so that tests can find it again."""

    pairs: int
    title_height: int = 34
    caption_height: int = 20
    gap: int = 10
    margin: int = 12

    @property
    def rows(self) -> int:
        return -(-self.pairs // PAIRS_PER_ROW)

    @property
    def size(self) -> tuple[int, int]:
        columns = min(self.pairs, PAIRS_PER_ROW)
        width = 2 * self.margin + columns * 2 * CELL + (columns - 1) * self.gap
        height = self.title_height + self.margin + self.rows * (CELL + self.caption_height + self.gap)
        return width, height

    def box(self, pair: int, source: str) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of the ``source`` image of pair ``pair``."""
        row, column = divmod(pair, PAIRS_PER_ROW)
        left = self.margin + column * (2 * CELL + self.gap) + (CELL if source == "ai" else 0)
        top = self.title_height + row * (CELL + self.caption_height + self.gap)
        return left, top, left + CELL, top + CELL


def _font(size: int):
    return ImageFont.load_default(size=size)


def _columns(dataset, names: list[str]) -> dict[str, np.ndarray]:
    columns = dataset.select_columns(names).with_format("numpy")[:]
    return {name: np.asarray(columns[name], dtype=np.int64) for name in names}


def _save(image: Image.Image, path: Path) -> Path:
    """Write atomically: a figure under its final name is complete; a failed write leaves no partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_files.replacing(path) as part:
        image.save(part, format="PNG", optimize=True)
    return path


def choose_pairs(dataset, generator_id: int, pairs: int) -> list[tuple[int, int, int]]:
    """(label, nature row, ai row) for up to ``pairs`` classes that have both kinds of image.

    Classes are spread evenly over those available (in row order), and each class's first
    natural and first AI row is taken: the same data always gives the same picture.
    """
    cols = _columns(dataset, ["generator", "source", "label"])
    first: dict[tuple[int, int], int] = {}
    rows = np.flatnonzero(cols["generator"] == generator_id)
    for row in rows.tolist():
        first.setdefault((int(cols["label"][row]), int(cols["source"][row])), row)
    nature, ai = tables.SOURCES.index("nature"), tables.SOURCES.index("ai")
    labels = [label for label in dict.fromkeys(int(cols["label"][r]) for r in rows.tolist())
              if (label, nature) in first and (label, ai) in first]
    if len(labels) > pairs:
        labels = [labels[i] for i in np.linspace(0, len(labels) - 1, pairs).round().astype(int).tolist()]
    return [(label, first[label, nature], first[label, ai]) for label in labels]


def _fit(image: Image.Image) -> Image.Image:
    image = image.convert("RGB")
    if image.size == (CELL, CELL):
        return image
    if max(image.size) <= CELL:
        return image.resize((CELL, CELL), Image.NEAREST)
    return ImageOps.fit(image, (CELL, CELL), Image.BICUBIC)


def sample_grid(dataset, generator: str, path: Path, pairs: int = 8) -> Path:
    """Draw pairs (natural left, AI right) of the generator's images; the path of the PNG."""
    generator_id = dataset.features["generator"].str2int(generator)
    chosen = choose_pairs(dataset, generator_id, pairs)
    if not chosen:
        raise ValueError(f"no class of {generator} has both a natural and an AI image in this split")
    geometry = GridGeometry(len(chosen))
    canvas = Image.new("RGB", geometry.size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    display = tables.generators()[generator].display_name
    draw.text((geometry.margin, 8), f"{display}: natural (left) and AI-generated (right), same class",
              fill=INK, font=_font(15))
    names = tables.readable_names()
    for i, (label, nature_row, ai_row) in enumerate(chosen):
        for source, row in (("nature", nature_row), ("ai", ai_row)):
            box = geometry.box(i, source)
            canvas.paste(_fit(dataset[row]["image"]), box[:2])
        left, _, _, bottom = geometry.box(i, "nature")
        draw.text((left, bottom + 3), f"{names[label]}"[:30], fill=INK, font=_font(12))
    return _save(canvas, path)


def class_counts(dataset, task: int, generator_id: int) -> np.ndarray:
    """[2, 100] images per (source, task_label) of one task of one generator."""
    cols = _columns(dataset, ["task", "generator", "source", "task_label"])
    mask = (cols["task"] == task) & (cols["generator"] == generator_id)
    counts = np.zeros((len(tables.SOURCES), 100), dtype=np.int64)
    np.add.at(counts, (cols["source"][mask], cols["task_label"][mask]), 1)
    return counts


@dataclass(frozen=True)
class ChartGeometry:
    left: int = 56
    top: int = 44
    plot_height: int = 110
    bottom: int = 40
    right: int = 16

    @property
    def size(self) -> tuple[int, int]:
        return self.left + 100 * SLOT + self.right, self.top + self.plot_height + self.bottom

    def bar(self, task_label: int, source: str, count: int, largest: int) -> tuple[int, int, int, int]:
        """(left, top, right, bottom) of one bar: a count of zero is an empty box at the axis, any other
        count at least one pixel high, however many times larger the largest count is."""
        x = self.left + task_label * SLOT + (3 if source == "ai" else 0)
        base = self.top + self.plot_height
        height = max(1, round(self.plot_height * count / largest)) if count and largest else 0
        return x, base - height, x + 3, base


def balance_chart(counts: np.ndarray, title: str, path: Path) -> Path:
    """A grouped bar chart of ``counts`` [2, 100] (nature, ai per task_label); the path of the PNG."""
    geometry = ChartGeometry()
    canvas = Image.new("RGB", geometry.size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    largest = int(counts.max()) if counts.size else 0
    present = counts[counts > 0]
    classes = int((counts.sum(axis=0) > 0).sum())
    smallest = int(present.min()) if present.size else 0
    per_class = f"{smallest} to {largest} images" if smallest != largest else \
        f"{largest} image" + ("s" if largest != 1 else "")
    spread = f"{classes}/100 classes, {per_class} per class and source" if present.size else "no images"
    draw.text((geometry.left, 6), f"{title}: {spread}", fill=INK, font=_font(14))
    x_legend = geometry.left
    for source in tables.SOURCES:
        draw.rectangle((x_legend, 27, x_legend + 10, 37), fill=SOURCE_COLOURS[source])
        draw.text((x_legend + 14, 25), source, fill=INK, font=_font(12))
        x_legend += 80
    base = geometry.top + geometry.plot_height
    labelled = set()
    for fraction in (0.0, 0.5, 1.0):
        y = base - round(geometry.plot_height * fraction)
        draw.line((geometry.left, y, geometry.left + 100 * SLOT, y), fill=GRID_LINE)
        value = round(largest * fraction)
        if value not in labelled:  # small counts: no repeated axis label
            labelled.add(value)
            draw.text((6, y - 7), str(value), fill=INK, font=_font(11))
    for source_id, source in enumerate(tables.SOURCES):
        for task_label in range(100):
            count = int(counts[source_id, task_label])
            if count:
                left, top, right, bottom = geometry.bar(task_label, source, count, largest)
                draw.rectangle((left, top, right - 1, bottom - 1), fill=SOURCE_COLOURS[source])
    for task_label in (0, 25, 50, 75, 99):
        x = geometry.left + task_label * SLOT
        draw.line((x, base, x, base + 4), fill=INK)
        draw.text((x - 4, base + 6), str(task_label), fill=INK, font=_font(11))
    draw.text((geometry.left, base + 22), "task_label (class position in the task)", fill=INK, font=_font(11))
    return _save(canvas, path)


def sample_path(out_dir: str | os.PathLike, generator: str) -> Path:
    return Path(out_dir) / f"samples-{generator}.png"


def balance_path(out_dir: str | os.PathLike, generator: str, task: int) -> Path:
    return Path(out_dir) / f"balance-{generator}-task{task}.png"


def balance_title(generator: str, task: int, split: str) -> str:
    return f"{tables.generators()[generator].display_name} task {task} ({split})"


def corruption_strip(clean: Image.Image, corrupted: dict, title: str, path: Path, scale: int = 2) -> Path:
    """The clean image, then each corrupted copy (float32 [3, H, W] in [0, 1], clipped for display), labelled."""
    cells = [("clean", clean)] + [
        (name, Image.fromarray(np.round(np.clip(values, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0), "RGB"))
        for name, values in corrupted.items()
    ]
    side = clean.width * scale
    gap, top, bottom = 8, 24, 20
    image = Image.new("RGB", (gap + len(cells) * (side + gap), top + side + bottom), "white")
    draw = ImageDraw.Draw(image)
    draw.text((gap, 4), title, fill=INK, font=_font(12))
    for index, (name, cell) in enumerate(cells):
        left = gap + index * (side + gap)
        image.paste(cell.resize((side, side), Image.NEAREST), (left, top))
        draw.text((left, top + side + 4), name, fill=INK, font=_font(11))
    return _save(image, path)
