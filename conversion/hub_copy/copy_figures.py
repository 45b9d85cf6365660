"""The card's figures, drawn from the Hub copy's own Parquet shards at bounded cost.

Per generator, only the small label columns of its train shards are read (no image); the sample
pairs and the class counts are taken from them with :mod:`conversion.hub_copy.figure_drawing`, and then only
the row groups that hold the chosen images are read. The figures are the ones
:mod:`conversion.hub_copy.figure_drawing` draws from the same rows loaded in full.

A figure never stops a publish: one that cannot be drawn is left out of the card (and its old file
removed), with one warning line naming it and the error.
"""

from __future__ import annotations

import os
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets.table import InMemoryTable

from conversion.builder import corrupted_rows
from conversion.contract import features, tables
from conversion.hub_copy import figure_drawing
from conversion.pixels import corruption_recipe

FIGURES_DIR = "figures"
SPLIT = "train"
LABEL_COLUMNS = ["generator", "task", "source", "label", "task_label"]


def _dataset(table: pa.Table, columns: list[str]) -> datasets.Dataset:
    full = features.features()
    info = datasets.DatasetInfo(features=datasets.Features({c: full[c] for c in columns}))
    return datasets.Dataset(InMemoryTable(table.replace_schema_metadata(None)), info=info)


def label_columns(files: list[Path]) -> datasets.Dataset:
    """The label columns of ``files`` (Parquet shards, in row order) as one dataset."""
    return _dataset(pa.concat_tables(pq.read_table(f, columns=LABEL_COLUMNS) for f in files), LABEL_COLUMNS)


def rows_of(files: list[Path], rows: list[int]) -> datasets.Dataset:
    """Rows ``rows`` (indices over ``files`` in order) with every column; reads only their row groups."""
    wanted = sorted(rows)
    pieces, offset = [], 0
    for path in files:
        parquet = pq.ParquetFile(path)
        for group in range(parquet.num_row_groups):
            size = parquet.metadata.row_group(group).num_rows
            local = [r - offset for r in wanted if offset <= r < offset + size]
            if local:
                pieces.append(parquet.read_row_group(group).take(local))
            offset += size
    if sum(len(p) for p in pieces) != len(wanted):
        raise IndexError(f"rows {wanted} are not all in {len(files)} shards of {offset} rows")
    columns = list(features.features())
    return _dataset(pa.concat_tables(pieces).select(columns), columns)


def _drawn(figures: list[Path], out: Path, draw, left_out: list[Path], log):
    """``draw()``; if it raises, ``figures`` go to ``left_out``, one warning line names them and the error, and
    the result is None: a figure is an illustration, and whatever drawing it raises never stops a publish."""
    try:
        return draw()
    except Exception as err:
        left_out.extend(figures)
        names = ", ".join(p.relative_to(out).as_posix() for p in figures)
        text = (str(err).splitlines() or [""])[0]
        log(f"warning: card figure {names} left out: {type(err).__name__}" + (f": {text}" if text else ""))
        return None


def _sample_grid(files: list[Path], labels: datasets.Dataset, generator: str, path: Path, pairs: int) -> Path | None:
    """The generator's sample grid at ``path``; None when no class has both a natural and an AI train image."""
    chosen = figure_drawing.choose_pairs(labels, labels.features["generator"].str2int(generator), pairs)
    if not chosen:
        return None
    # The chosen rows alone, in row order, give choose_pairs the same pairs again.
    chosen_rows = rows_of(files, [row for _, nature, ai in chosen for row in (nature, ai)])
    return figure_drawing.sample_grid(chosen_rows, generator, path, pairs)


def _balance_chart(labels: datasets.Dataset, generator: str, task: int, path: Path) -> Path:
    counts = figure_drawing.class_counts(labels, task, labels.features["generator"].str2int(generator))
    return figure_drawing.balance_chart(counts, figure_drawing.balance_title(generator, task, SPLIT), path)


def render_generator(out: Path, generator: str, parts: list, figures_dir: Path, pairs: int = 8, log=print) -> dict:
    """Sample grid and per-task balance charts of one generator's ``parts`` (:class:`conversion.hub_copy.parts.Part`).

    Returns ``{"samples": path or None, "balance": {task: path}, "left_out": [path, ...]}``: no grid
    when no class has both a natural and an AI train image; a figure that could not be drawn is
    absent, listed in ``left_out``, and named in a warning.
    """
    drawn: dict = {"samples": None, "balance": {}, "left_out": []}
    samples = figure_drawing.sample_path(figures_dir, generator)
    charts = {part.task: figure_drawing.balance_path(figures_dir, generator, part.task) for part in parts}
    files = [out / f["path"] for part in parts for f in part.splits[SPLIT]["files"]]
    labels = _drawn([samples, *charts.values()], out, lambda: label_columns(files), drawn["left_out"], log)
    if labels is None:
        return drawn
    drawn["samples"] = _drawn([samples], out, lambda: _sample_grid(files, labels, generator, samples, pairs),
                              drawn["left_out"], log)
    for task, path in charts.items():
        chart = _drawn([path], out, lambda task=task, path=path: _balance_chart(labels, generator, task, path),
                       drawn["left_out"], log)
        if chart is not None:
            drawn["balance"][task] = chart
    return drawn


def render(out: str | os.PathLike, parts: list, pairs: int = 8, log=print) -> dict[str, dict]:
    """Every figure of the folder ``out`` into ``out/figures``; one that could not be drawn is named in a
    warning passed to ``log`` (the caller removes old figures not drawn this time).

    Returns ``{generator: {"samples": path or None, "balance": {task: path}, "left_out": [path, ...]}}``,
    generators and tasks sorted.
    """
    out = Path(out)
    figures_dir = out / FIGURES_DIR
    by_generator: dict[str, list] = {}
    for part in sorted(parts, key=lambda p: (p.generator, p.task)):
        by_generator.setdefault(part.generator, []).append(part)
    return {g: render_generator(out, g, ps, figures_dir, pairs, log) for g, ps in by_generator.items()}


CORRUPTED_FIGURE = "corruptions.png"


def render_corrupted(out: str | os.PathLike, parts: list, log=print) -> Path | None:
    """One image per corruption beside its clean original, from the first part (in disjoint task order)
    holding the most corrupted copies; None (nothing drawn) when no part has one or it cannot be drawn
    (then a warning is passed to ``log``)."""
    out = Path(out)
    path = out / FIGURES_DIR / CORRUPTED_FIGURE
    order = {g: k for k, g in enumerate(tables.task_order())}
    held = sorted((p for p in parts if p.corrupted),
                  key=lambda p: (-len(p.corrupted), order.get(p.generator, 99), p.task))
    chosen = next((p for p in held if all(c["num_examples"] for c in p.corrupted.values())), None)
    return None if chosen is None else _drawn([path], out, lambda: _corruption_strip(out, chosen, path), [], log)


def _corruption_strip(out: Path, chosen, path: Path) -> Path:
    """The figure of :func:`render_corrupted` for the part ``chosen``."""
    images = {}
    for corruption in corruption_recipe.CORRUPTIONS:
        if corruption in chosen.corrupted:
            first = chosen.corrupted[corruption]["files"][0]["path"]
            row = pq.ParquetFile(out / first).read_row_group(
                0, columns=[corrupted_rows.COLUMN, "file_name"]).slice(0, 1)
            values = np.asarray(row.column(corrupted_rows.COLUMN).to_pylist()[0], dtype=np.float32)
            images[corruption] = (row.column("file_name")[0].as_py(), values)
    name = next(iter(images.values()))[0]
    clean_files = [out / f["path"] for f in chosen.splits["test"]["files"]]
    names = pa.concat_tables(
        pq.read_table(f, columns=["file_name"]) for f in clean_files).column("file_name").to_pylist()
    clean = rows_of(clean_files, [names.index(name)])[0]["image"].convert("RGB")
    return figure_drawing.corruption_strip(clean, {c: v for c, (_n, v) in images.items()},
                                         f"{chosen.generator} task {chosen.task}, test: {name}", path)
