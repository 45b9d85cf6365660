"""Count tables of a built config: rows per task, split and source."""

from __future__ import annotations

import numpy as np

from conversion.contract import tables


def counts(dataset_dict) -> dict[tuple[str, int, str], int]:
    """{(split, task, source): rows} for every non-empty cell."""
    cells = {}
    for split, ds in dataset_dict.items():
        task = np.asarray(ds.data.column("task").to_numpy(), dtype=np.int64)
        source = np.asarray(ds.data.column("source").to_numpy(), dtype=np.int64)
        found = zip(*np.unique(np.stack([task, source], axis=1), axis=0, return_counts=True)) if len(ds) else ()
        for (t, s), n in found:
            cells[split, int(t), tables.SOURCES[int(s)]] = int(n)
    return cells


def count_table(dataset_dict) -> str:
    """A Markdown table: one row per task, one column per split and source, with totals."""
    cells = counts(dataset_dict)
    splits = list(dataset_dict)
    columns = [(split, source) for split in splits for source in tables.SOURCES]
    tasks = sorted({t for _, t, _ in cells})
    header = "| task | " + " | ".join(f"{split} {source}" for split, source in columns) + " | total |"
    lines = [header, "|" + "---|" * (len(columns) + 2)]
    for t in tasks + ["all"]:
        row = [sum(n for (sp, tk, so), n in cells.items() if (sp, so) == col and t in ("all", tk)) for col in columns]
        lines.append(f"| {t} | " + " | ".join(str(n) for n in row) + f" | {sum(row)} |")
    return "\n".join(lines)
