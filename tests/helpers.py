"""Helpers only the tests use: the package has no caller for them."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from conversion import atomic_files
from conversion.hub_copy import figure_drawing


def leftover_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Temporary files of atomic writes (:data:`conversion.atomic_files.TEMPORARY`) anywhere under ``folder``."""
    return [p for p in Path(folder).rglob("*") if atomic_files.TEMPORARY.fullmatch(p.name)]


def render_figures(dataset_dict, out_dir: str | os.PathLike, split: str = "train", pairs: int = 8) -> dict:
    """Every card figure of a loaded config's ``split``, drawn from the rows loaded in full (what
    :mod:`conversion.hub_copy.copy_figures` must equal, drawing from a few row groups).

    Returns ``{"samples": {generator: path}, "balance": {(generator, task): path}}``.
    """
    dataset = dataset_dict[split]
    columns = dataset.select_columns(["generator", "task"]).with_format("numpy")[:]
    generator_col, task_col = (np.asarray(columns[name], dtype=np.int64) for name in ("generator", "task"))
    names = dataset.features["generator"].names
    figures: dict = {"samples": {}, "balance": {}}
    for generator_id in sorted(set(generator_col.tolist())):
        generator = names[generator_id]
        figures["samples"][generator] = figure_drawing.sample_grid(
            dataset, generator, figure_drawing.sample_path(out_dir, generator), pairs)
        for task in sorted(set(task_col[generator_col == generator_id].tolist())):
            counts = figure_drawing.class_counts(dataset, task, generator_id)
            figures["balance"][generator, task] = figure_drawing.balance_chart(
                counts, figure_drawing.balance_title(generator, task, split),
                figure_drawing.balance_path(out_dir, generator, task))
    return figures


def code_lines(text: str) -> list[str]:
    """Every line inside the fenced code blocks of a card's markdown (the Hub's code boxes)."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line)
    assert not inside, "a code block is not closed"
    return lines
