"""Continual-learning streams: the tasks of a loaded config, in order, as dataset views.

Rows of every split are sorted by (task, source, label, file_name) (docs/contract.md#row-order), so each
task, and each source within a task, is one contiguous block of rows. The block boundaries are
found once per split from the ``task`` and ``source`` columns (no image is read) and every view is
``Dataset.select(range(a, b))``, which datasets serves without an indices mapping.

Example::

    from datasets import load_dataset
    from conversion.uses.streams import tasks

    ds = load_dataset("genimage-cl", "sdv14")
    for task in tasks(ds, order="backwards", source="ai"):
        print(task.position, task.index, task.generator, len(task.train), len(task.test))
        head_size = len(task.classes)        # 100: task_label indexes task.classes

    # the paper's substitution experiment: tasks 0-1 trained on AI images, the rest on natural ones
    stream = tasks(ds, sources=["ai", "ai", "nature", "nature", "nature", "nature"], paper_loader=True)

    # the paper's reversed benchmark (VQDM on class set 0, ..., ADM on set 5), each task tested on its own source
    chosen = ["ai", "nature", "nature", "nature", "nature", "nature"]
    stream = tasks(load_dataset("genimage-cl", "disjoint-reversed"), order="reversed", sources=chosen,
                   test_source=chosen)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from conversion.contract import tables
from conversion.pixels import corruption_recipe
from conversion.sources import release
from conversion.uses import validation as validation_split

ORDERS = ("standard", "reversed", "backwards")
"""``standard``: the config's tasks, task 0 first; ``reversed``: the paper's reversed benchmark (needs the
``disjoint-reversed`` config, whose tasks it gives in order); ``backwards``: the config's tasks, last first."""
SOURCE_CHOICES = ("both", "ai", "nature")


class StreamError(ValueError):
    """The dataset cannot be cut into task views (unsorted rows, unknown split or option)."""


@dataclass(frozen=True)
class Task:
    """One task of a stream: its views per split and its label space.

    ``index`` is the ``task`` column value (also the release class set); ``position`` its place in
    the stream (differs from ``index`` in backwards order). ``labels`` are the standard ImageNet
    indices of the task's 100 classes and ``classes`` their wnids, both in ``task_label`` order, so
    ``classes[row["task_label"]]`` is the row's wnid. ``ranks`` (streams cut with
    ``paper_loader=True``) maps, per split, ``task_label`` to the paper loader's label: the rank
    among the labels the view holds (the same as ``task_label`` when all 100 classes are present).
    """

    position: int
    index: int
    generator: str
    classes: tuple[str, ...]
    labels: tuple[int, ...]
    splits: Mapping[str, object]
    ranks: Mapping[str, dict[int, int]] | None = None

    @property
    def train(self):
        return self.splits["train"]

    @property
    def test(self):
        return self.splits["test"]

    @property
    def validation(self):
        """The validation rows carved from train (``tasks(..., validation=fraction)``)."""
        return self.splits["validation"]

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


def _spans(ranges: dict[int, tuple[int, int]], source: str) -> list[tuple[int, int]]:
    wanted = [tables.SOURCES.index(s) for s in (tables.SOURCES if source == "both" else (source,))]
    return [ranges[s] for s in wanted if s in ranges]


def _view(dataset, ranges: dict[int, tuple[int, int]], source: str):
    """Rows of one task for the chosen source(s); the sources of a task are adjacent blocks."""
    spans = _spans(ranges, source)
    if not spans:
        return dataset.select([])
    return dataset.select(range(min(a for a, _ in spans), max(b for _, b in spans)))


def release_order(names: Sequence[str]) -> np.ndarray:
    """Positions of the rows named ``names`` (one part's) in the order of the release's ``X.pt``: rows
    converted from the release carry their row index in their file name; rows built from raw files
    have no such order and keep theirs."""
    if len(names) and all(release.is_release_name(n) for n in names):
        return np.argsort([release.release_index(n) for n in names], kind="stable")
    return np.arange(len(names))


def paper_order(names: Sequence[str]) -> np.ndarray:
    """Positions of the rows the paper's loader takes of one (task, split, source) block named ``names``, in
    its order: the first floor(N / 10) * 10 in :func:`release_order`."""
    order = release_order(names)
    return order[: corruption_recipe.kept_rows(len(order))]


def paper_rows(dataset, start: int, stop: int) -> np.ndarray:
    """The paper loader's rows of one (task, split, source) block (:func:`paper_order`)."""
    return start + paper_order(dataset.select_columns(["file_name"])[start:stop]["file_name"])


def _paper_view(dataset, ranges: dict[int, tuple[int, int]], source: str, where: str):
    """The paper loader's view of one task and split, and its task_label -> rank map."""
    task_labels = dataset.select_columns(["task_label"]).with_format("numpy")
    rows, ranks = [], None
    for start, stop in _spans(ranges, source):
        kept = paper_rows(dataset, start, stop)
        present = np.unique(task_labels[kept.tolist()]["task_label"]) if len(kept) else []
        block_ranks = {int(label): rank for rank, label in enumerate(present)}
        if ranks is not None and block_ranks != ranks:
            raise StreamError(f"{where}: the natural and AI rows hold different classes, so the paper's "
                              f"ranks differ per source; cut one source per view (source='ai' or 'nature')")
        rows.append(kept)
        ranks = block_ranks
    return dataset.select(np.concatenate(rows) if rows else []), ranks or {}


def _check_per_task(name: str, value) -> None:
    """``value`` must be one entry of SOURCE_CHOICES per task (a list or tuple, not a string)."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise StreamError(f"{name} takes one source per task, a list such as ['ai', 'nature', ...], got {value!r}")
    bad = [(i, s) for i, s in enumerate(value) if s not in SOURCE_CHOICES]
    if bad:
        raise StreamError(f"{name} entries must be among {SOURCE_CHOICES}, got {bad[0][1]!r} (entry {bad[0][0]})")


def _check_sources(source: str, sources: Sequence[str] | None, test_source: str | Sequence[str] | None) -> None:
    if source not in SOURCE_CHOICES:
        raise StreamError(f"source must be one of {SOURCE_CHOICES}, got {source!r}")
    if sources is not None:
        _check_per_task("sources", sources)
    if isinstance(test_source, str):
        if test_source not in SOURCE_CHOICES:
            raise StreamError(f"test_source must be one of {SOURCE_CHOICES}, or one of them per task, "
                              f"got {test_source!r}")
    elif test_source is not None:
        _check_per_task("test_source", test_source)


def _per_task(name: str, value, count: int) -> list[str]:
    """``value`` (one source, or one per task) as the source of each of the stream's ``count`` tasks."""
    if isinstance(value, str):
        return [value] * count
    if len(value) != count:
        raise StreamError(f"{name} has {len(value)} entries, one per task is needed: the stream has {count} tasks")
    return list(value)


def _sources_per_split(splits, source: str, sources, test_source, count: int):
    """{split: [source of each stream position]}: ``sources`` for all splits but test, ``test_source`` there."""
    per_task = _per_task("sources", sources if sources is not None else source, count)
    if test_source is None:
        test_source = "nature" if sources is not None else source
    tested = _per_task("test_source", test_source, count)
    return {split: tested if split == "test" else per_task for split in splits}


def _check_order(order: str) -> None:
    if order == "reverse":
        raise StreamError("order='reverse' is retired: it played the tasks backwards, which is not the paper's "
                          "reversed benchmark; order='reversed' is the paper's (config disjoint-reversed), "
                          "order='backwards' the same tasks from the last to the first")
    if order not in ORDERS:
        raise StreamError(f"order must be one of {ORDERS}, got {order!r}")


def _check_paper_reversed(generator_of: dict[int, str]) -> None:
    """order='reversed' asks for the paper's reversed benchmark: every task k must come from the k-th
    generator of its order (the ``disjoint-reversed`` config); anything else fails naming what to load."""
    reversed_order = tables.paper_orders()["reversed"]
    wrong = [(k, g) for k, g in sorted(generator_of.items()) if reversed_order["generators"][k] != g]
    if wrong:
        k, g = wrong[0]
        raise StreamError(f"order='reversed' is the paper's reversed benchmark (task k from the k-th generator of "
                          f"{', '.join(reversed_order['generators'])}): load the config {reversed_order['config']!r}; "
                          f"this dataset holds {g} on task {k} (order='backwards' plays its tasks from the last)")


def _with_validation(views: dict, ranks, fraction: float, seed: int, index: int):
    """``views`` with train split into train and validation (train's paper ranks hold for both)."""
    train, held = validation_split.carve(views["train"], fraction, seed, index)
    views = {**views, "train": views["train"].select(train), "validation": views["train"].select(held)}
    return views, (None if ranks is None else {**ranks, "validation": ranks["train"]})


def tasks(
    dataset_dict,
    order: str = "standard",
    source: str = "both",
    splits=("train", "test"),
    sources: Sequence[str] | None = None,
    test_source: str | Sequence[str] | None = None,
    paper_loader: bool = False,
    validation: float = 0.0,
    validation_seed: int = 0,
) -> list[Task]:
    """The tasks of a loaded config in stream order, each with a view per split.

    Args:
        dataset_dict: a ``DatasetDict`` (or mapping of split name -> ``Dataset``) of one config.
        order: ``"standard"`` (the config's tasks, task 0 first: on ``disjoint`` the paper's standard stream, on
            ``disjoint-reversed`` its reversed one), ``"reversed"`` (the paper's word: its reversed benchmark,
            VQDM on class set 0, ..., ADM on class set 5; only on ``disjoint-reversed``) or ``"backwards"`` (the
            config's tasks from the last to the first; on ``disjoint`` that is not the paper's reversed run).
        source: ``"both"``, ``"ai"`` or ``"nature"``: which images each view holds.
        splits: the splits to cut (each view is empty where a split has no rows of the task).
        sources: one source per task in stream order, for the substitution experiments (e.g. the
            first m tasks ``"ai"``, the rest ``"nature"``); replaces ``source`` for all splits but test.
        test_source: the test views' source, one for all tasks or one per task in stream order (as ``sources``;
            the paper's ``main-steps.py`` tests each task on its training source: pass ``sources`` again);
            default ``source``, or ``"nature"`` when ``sources`` is given.
        paper_loader: the paper loader's exact view (docs/paper-loader.md#loader-rules): each task, split and
            source keeps its first floor(N / 10) * 10 rows, and ``Task.ranks`` gives its labels.
        validation: a fraction of each task's train rows moved to a ``"validation"`` view, class-stratified
            and the same on every machine for one ``validation_seed`` (:mod:`conversion.uses.validation`).
    """
    if not isinstance(dataset_dict, Mapping):
        raise StreamError(f"tasks() takes the whole DatasetDict (e.g. ds), not one split such as ds['train'] "
                          f"(got {type(dataset_dict).__name__}); choose splits with splits=(...)")
    _check_order(order)
    _check_sources(source, sources, test_source)
    validation_split.check(validation, validation_seed)
    if validation and "train" not in splits:
        raise StreamError(f"validation is carved from train, which splits={tuple(splits)} leaves out")
    missing = [s for s in splits if s not in dataset_dict]
    if missing:
        raise StreamError(f"split(s) {missing} not in the dataset, which has {list(dataset_dict)}")
    found = {split: blocks(dataset_dict[split]) for split in splits}
    indices = sorted({t for per_split in found.values() for t in per_split.ranges})
    if order == "reversed":
        names = dataset_dict[splits[0]].features["generator"].names
        _check_paper_reversed({t: names[g] for per_split in found.values() for t, g in per_split.generator.items()})
    if order == "backwards":
        indices.reverse()
    per_split = _sources_per_split(splits, source, sources, test_source, len(indices))
    wnids = tables.wnids()
    stream = []
    for position, index in enumerate(indices):
        ranks = None
        if paper_loader:
            cut = {split: _paper_view(dataset_dict[split], found[split].ranges.get(index, {}),
                                      per_split[split][position], f"task {index}, {split}") for split in splits}
            views, ranks = {s: v for s, (v, _) in cut.items()}, {s: r for s, (_, r) in cut.items()}
        else:
            views = {split: _view(dataset_dict[split], found[split].ranges.get(index, {}), per_split[split][position])
                     for split in splits}
        if validation:
            views, ranks = _with_validation(views, ranks, validation, validation_seed, index)
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
                ranks=ranks,
            )
        )
    return stream
