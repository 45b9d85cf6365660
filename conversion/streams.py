"""Continual-learning streams: the tasks of a loaded config, in order, as dataset views.

Rows of every split are sorted by (task, source, label, file_name) (design.md section 3), so each
task, and each source within a task, is one contiguous block of rows. The block boundaries are
found once per split from the ``task`` and ``source`` columns (no image is read) and every view is
``Dataset.select(range(a, b))``, which datasets serves without an indices mapping.

Example::

    from datasets import load_dataset
    from conversion.streams import tasks

    ds = load_dataset("genimage-cl", "sdv14")
    for task in tasks(ds, order="reverse", source="ai"):
        print(task.position, task.index, task.generator, len(task.train), len(task.test))
        head_size = len(task.classes)        # 100: task_label indexes task.classes
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from conversion import tables

ORDERS = ("standard", "reverse")
SOURCE_CHOICES = ("both", "ai", "nature")


class StreamError(ValueError):
    """The dataset cannot be cut into task views (unsorted rows, unknown split or option)."""


@dataclass(frozen=True)
class Task:
    """One task of a stream: its views per split and its label space.

    ``index`` is the ``task`` column value (also the release class set); ``position`` its place in
    the stream (differs from ``index`` in reverse order). ``labels`` are the standard ImageNet
    indices of the task's 100 classes and ``classes`` their wnids, both in ``task_label`` order, so
    ``classes[row["task_label"]]`` is the row's wnid.
    """

    position: int
    index: int
    generator: str
    classes: tuple[str, ...]
    labels: tuple[int, ...]
    splits: Mapping[str, object]

    @property
    def train(self):
        return self.splits["train"]

    @property
    def test(self):
        return self.splits["test"]

    @property
    def task_label_of(self) -> dict[int, int]:
        """standard label -> task_label for the task's classes."""
        return {label: position for position, label in enumerate(self.labels)}


@dataclass(frozen=True)
class Blocks:
    """Row ranges of one split: {task: {source id: (start, stop)}}, and each task's generator id."""

    ranges: dict[int, dict[int, tuple[int, int]]]
    generator: dict[int, int]


def blocks(dataset) -> Blocks:
    """Find the task and source blocks of a split sorted by task, then source (reads 3 int columns)."""
    columns = dataset.select_columns(["task", "source", "generator"]).with_format("numpy")[:]
    task, source = np.asarray(columns["task"], np.int64), np.asarray(columns["source"], np.int64)
    key = task * len(tables.SOURCES) + source
    if np.any(np.diff(key) < 0):
        raise StreamError(
            "rows are not sorted by task and source, so tasks are not contiguous; use the split as "
            "built or loaded (not shuffled), or sort it first with dataset.sort(['task', 'source'])"
        )
    starts = np.flatnonzero(np.diff(key, prepend=-1))
    stops = np.append(starts[1:], len(key)).astype(np.int64)
    found = Blocks({}, {})
    for start, stop in zip(starts.tolist(), stops.tolist()):
        found.ranges.setdefault(int(task[start]), {})[int(source[start])] = (start, stop)
        found.generator.setdefault(int(task[start]), int(columns["generator"][start]))
    return found


def _view(dataset, ranges: dict[int, tuple[int, int]], source: str):
    """Rows of one task for the chosen source(s); the sources of a task are adjacent blocks."""
    wanted = [tables.SOURCES.index(s) for s in (tables.SOURCES if source == "both" else (source,))]
    spans = [ranges[s] for s in wanted if s in ranges]
    if not spans:
        return dataset.select([])
    return dataset.select(range(min(a for a, _ in spans), max(b for _, b in spans)))


def tasks(dataset_dict, order: str = "standard", source: str = "both", splits=("train", "test")) -> list[Task]:
    """The tasks of a loaded config in stream order, each with a view per split.

    Args:
        dataset_dict: a ``DatasetDict`` (or mapping of split name -> ``Dataset``) of one config.
        order: ``"standard"`` (task 0 first) or ``"reverse"`` (as the paper also runs).
        source: ``"both"``, ``"ai"`` or ``"nature"``: which images each view holds.
        splits: the splits to cut (each view is empty where a split has no rows of the task).
    """
    if order not in ORDERS:
        raise StreamError(f"order must be one of {ORDERS}, got {order!r}")
    if source not in SOURCE_CHOICES:
        raise StreamError(f"source must be one of {SOURCE_CHOICES}, got {source!r}")
    missing = [s for s in splits if s not in dataset_dict]
    if missing:
        raise StreamError(f"split(s) {missing} not in the dataset, which has {list(dataset_dict)}")
    found = {split: blocks(dataset_dict[split]) for split in splits}
    indices = sorted({t for per_split in found.values() for t in per_split.ranges})
    if order == "reverse":
        indices.reverse()
    wnids = tables.wnids()
    stream = []
    for position, index in enumerate(indices):
        views = {split: _view(dataset_dict[split], found[split].ranges.get(index, {}), source) for split in splits}
        generator_id = next(found[s].generator[index] for s in splits if index in found[s].generator)
        labels = tables.task_classes()[index]
        stream.append(
            Task(
                position=position,
                index=index,
                generator=dataset_dict[splits[0]].features["generator"].int2str(generator_id),
                classes=tuple(wnids[label] for label in labels),
                labels=labels,
                splits=views,
            )
        )
    return stream
