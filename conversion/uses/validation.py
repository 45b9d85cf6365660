"""A validation split carved from a task's train view: class-stratified, the same rows on every machine.

Within each (source, label) group of the view, rows are permuted by numpy's ``Generator`` seeded with
``[seed, task, source, label]`` (``np.random.default_rng``, whose streams numpy keeps stable) and the
first ``round(fraction * n)`` go to validation, leaving at least one row of the group in train. Rows of a
config are in a fixed order (docs/contract.md#row-order), so the rows chosen depend only on the
dataset, ``fraction`` and ``seed``.

The paper has no such split: its "valid" split is GenImage's val folder, the same images as its test
split (docs/paper-loader.md#loader-rules), so validating on it selects models on the test images.
"""

from __future__ import annotations

import math

import numpy as np


def check(fraction: float, seed: int) -> None:
    if isinstance(fraction, bool) or not (isinstance(fraction, (int, float)) and 0 <= fraction < 1):
        raise ValueError(f"validation must be a fraction in [0, 1), got {fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"validation_seed must be an int >= 0, got {seed!r}")


def group_size(fraction: float, n: int) -> int:
    """Rows of a group of ``n`` that go to validation: ``round(fraction * n)`` (halves up), at most n - 1."""
    return min(math.floor(fraction * n + 0.5), max(n - 1, 0))


def carve(view, fraction: float, seed: int, task: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows) of ``view``, positions within it, each sorted."""
    check(fraction, seed)
    if not len(view) or fraction == 0:
        return np.arange(len(view)), np.arange(0)
    columns = view.select_columns(["source", "label"]).with_format("numpy")[:]
    source, label = np.asarray(columns["source"], np.int64), np.asarray(columns["label"], np.int64)
    chosen = []
    for s, lab in sorted(set(zip(source.tolist(), label.tolist()))):
        rows = np.flatnonzero((source == s) & (label == lab))
        order = np.random.default_rng([seed, task, s, lab]).permutation(len(rows))
        chosen.append(rows[order[: group_size(fraction, len(rows))]])
    validation = np.sort(np.concatenate(chosen))
    return np.setdiff1d(np.arange(len(view)), validation), validation
