"""The card's figures, drawn from the Hub copy's own Parquet shards at bounded cost.

Per generator, only the small label columns of its train shards are read (no image); the sample
pairs and the class counts are taken from them with :mod:`conversion.card_figures`, and then only
the row groups that hold the chosen images are read. The figures are the ones
``card_figures.render`` draws from the same rows loaded in full.
"""

from __future__ import annotations

import os
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from datasets.table import InMemoryTable

from conversion import card_figures, corrupted, corruptions, features, tables

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


def render_generator(out: Path, generator: str, parts: list, figures_dir: Path, pairs: int = 8) -> dict:
    """Sample grid and per-task balance charts of one generator's ``parts`` (``publish.Part``).

    Returns ``{"samples": path or None, "balance": {task: path}}``; no grid when no class has both
    a natural and an AI train image.
    """
    files = [out / f["path"] for part in parts for f in part.splits[SPLIT]["files"]]
    labels = label_columns(files)
    generator_id = labels.features["generator"].str2int(generator)
    drawn: dict = {"samples": None, "balance": {}}
    chosen = card_figures.choose_pairs(labels, generator_id, pairs)
    if chosen:
        # The chosen rows alone, in row order, give choose_pairs the same pairs again.
        chosen_rows = rows_of(files, [row for _, nature, ai in chosen for row in (nature, ai)])
        drawn["samples"] = card_figures.sample_grid(chosen_rows, generator,
                                                    card_figures.sample_path(figures_dir, generator), pairs)
    for part in parts:
        counts = card_figures.class_counts(labels, part.task, generator_id)
        drawn["balance"][part.task] = card_figures.balance_chart(
            counts, card_figures.balance_title(generator, part.task, SPLIT),
            card_figures.balance_path(figures_dir, generator, part.task))
    return drawn


def render(out: str | os.PathLike, parts: list, pairs: int = 8) -> dict[str, dict]:
    """Every figure of the folder ``out`` into ``out/figures`` (the caller removes those of parts no longer there).

    Returns ``{generator: {"samples": path or None, "balance": {task: path}}}``, generators and
    tasks sorted.
    """
    out = Path(out)
    figures_dir = out / FIGURES_DIR
    by_generator: dict[str, list] = {}
    for part in sorted(parts, key=lambda p: (p.generator, p.task)):
        by_generator.setdefault(part.generator, []).append(part)
    return {g: render_generator(out, g, ps, figures_dir, pairs) for g, ps in by_generator.items()}


CORRUPTED_FIGURE = "corruptions.png"


def render_corrupted(out: str | os.PathLike, parts: list) -> Path | None:
    """One image per corruption beside its clean original, from the first part (in disjoint task order)
    holding the most corrupted copies; None (and nothing drawn) when no part has one."""
    out = Path(out)
    path = out / FIGURES_DIR / CORRUPTED_FIGURE
    order = {g: k for k, g in enumerate(tables.task_order())}
    held = sorted((p for p in parts if p.corrupted), key=lambda p: (-len(p.corrupted), order.get(p.generator, 99), p.task))
    chosen = next((p for p in held if all(c["num_examples"] for c in p.corrupted.values())), None)
    if chosen is None:
        return None
    images = {}
    for corruption in corruptions.CORRUPTIONS:
        if corruption in chosen.corrupted:
            first = chosen.corrupted[corruption]["files"][0]["path"]
            row = pq.ParquetFile(out / first).read_row_group(0, columns=[corrupted.COLUMN, "file_name"]).slice(0, 1)
            values = np.asarray(row.column(corrupted.COLUMN).to_pylist()[0], dtype=np.float32)
            images[corruption] = (row.column("file_name")[0].as_py(), values)
    name = next(iter(images.values()))[0]
    clean_files = [out / f["path"] for f in chosen.splits["test"]["files"]]
    names = pa.concat_tables(pq.read_table(f, columns=["file_name"]) for f in clean_files).column("file_name").to_pylist()
    clean = rows_of(clean_files, [names.index(name)])[0]["image"].convert("RGB")
    return card_figures.corruption_strip(clean, {c: v for c, (_n, v) in images.items()},
                                         f"{chosen.generator} task {chosen.task}, test: {name}", path)
