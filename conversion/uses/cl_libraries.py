"""Continual-learning libraries on a loaded config: Avalanche benchmarks and Continuum scenarios.

Both cut the config into its six tasks with :func:`conversion.uses.streams.tasks` (same ``order``,
``source``, ``sources``, ``test_source`` and ``paper_loader`` options) and give each task its targets:

- ``scenario="class"`` (class-incremental): one label space over the stream, ids 0..599 in stream
  order, i.e. ``class_order(stream).index(label)`` = position * 100 + ``task_label``;
- ``scenario="task"`` (task-incremental): ``task_label`` (0..99 within the task) and the task's
  position in the stream as task label.

With ``paper_loader=True`` the paper loader's ranks replace ``task_label`` in both.

Avalanche, Continuum and torchvision are imported only by the functions that need them (they live in
the CL environment, ``requirements-cl.txt``).
"""

from __future__ import annotations

import numpy as np

from conversion.contract import tables
from conversion.uses import streams
from conversion.uses.torch_pairs import Pairs

SCENARIOS = ("class", "task")
CLASSES_PER_TASK = 100
TIMELINE = ("classes_in_this_experience", "previous_classes", "classes_seen_so_far", "future_classes")
"""Avalanche's class timeline, given as sorted lists (as its older benchmarks did): its
``MultiHeadClassifier`` indexes a tensor with ``classes_in_this_experience``, which fails on a set."""


def class_order(stream=None) -> list[int]:
    """The standard labels of the stream's tasks in stream order (600 for a full generator); without a
    stream, those of tasks 0..5 in task order.

    ``class_order(stream)[i]`` is the label of class-incremental id ``i``.
    """
    labels = tables.task_classes() if stream is None else [task.labels for task in stream]
    return [label for task_labels in labels for label in task_labels]


def to_float(image):
    """uint8 image tensor -> float32 in [0, 1] (the default transform)."""
    return image.float().div(255)


def task_targets(task, split: str, scenario: str) -> dict[int, int]:
    """``task_label`` -> the task's target in ``scenario`` (paper ranks when the stream has them)."""
    ranks = task.ranks[split] if task.ranks is not None else {label: label for label in range(len(task.labels))}
    base = task.position * CLASSES_PER_TASK if scenario == "class" else 0
    return {label: base + rank for label, rank in ranks.items()}


def _check(scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")


def task_pairs(task, split: str, scenario: str) -> Pairs:
    """The task's view of ``split`` as (image, target) pairs with the scenario's targets."""
    return Pairs(task.splits[split], target="task_label",
                 target_transform=task_targets(task, split, scenario).__getitem__)


def avalanche_benchmark(ds, scenario: str = "class", order: str = "standard", sources=None, transform=None,
                        eval_transform=None, source: str = "both", test_source: str | None = None,
                        paper_loader: bool = False):
    """An Avalanche benchmark with one train and one test experience per task (6 of each for a generator).

    Experiences carry ``classes_in_this_experience`` (and the rest of Avalanche's class timeline),
    so ``IncrementalClassifier`` grows with them; with ``scenario="task"`` they carry task labels
    (``task_label`` = position in the stream) for ``MultiTaskModule`` heads such as
    ``MultiHeadClassifier``. Images are uint8 CxHxW tensors passed through ``transform`` (training)
    or ``eval_transform`` (evaluation; default ``transform``); both default to :func:`to_float`.
    Rows are read lazily from the dataset, nothing is loaded up front.
    """
    from avalanche.benchmarks.scenarios.dataset_scenario import benchmark_from_datasets
    from avalanche.benchmarks.scenarios.supervised import with_classes_timeline
    from avalanche.benchmarks.scenarios.task_aware import with_task_labels

    # exported by avalanche.benchmarks.utils (its __all__): how Avalanche's own benchmarks give a
    # dataset its targets and task labels without reading every row
    from avalanche.benchmarks.utils import _make_taskaware_classification_dataset

    _check(scenario)
    stream = streams.tasks(ds, order=order, source=source, sources=sources, test_source=test_source,
                           paper_loader=paper_loader)
    train_transform = transform or to_float
    groups = {"train": train_transform, "eval": eval_transform or train_transform}
    experiences = {"train": [], "test": []}
    for task in stream:
        for split, group in (("train", "train"), ("test", "eval")):
            pairs = task_pairs(task, split, scenario)
            experiences[split].append(_make_taskaware_classification_dataset(
                pairs, targets=pairs.targets, task_labels=task.position if scenario == "task" else 0,
                transform_groups=groups, initial_transform_group=group))
    benchmark = with_classes_timeline(benchmark_from_datasets(**experiences))
    for avalanche_stream in benchmark.streams.values():
        for experience in avalanche_stream:
            for name in TIMELINE:
                setattr(experience, name, sorted(getattr(experience, name)))
    return with_task_labels(benchmark) if scenario == "task" else benchmark


def _images(views, total: int, batch_size: int = 1000) -> np.ndarray:
    """The views' images in one preallocated uint8 [N, H, W, 3] array, decoded batch by batch."""
    x, at = None, 0
    for task, view in views:
        for batch in view.with_format("numpy", columns=["image"]).iter(batch_size=batch_size):
            images = batch["image"]
            if x is None:
                x = np.empty((total, *images.shape[1:]), dtype=np.uint8)
            if images.dtype == object or images.shape[1:] != x.shape[1:]:
                raise ValueError(f"task {task.index}: images of different sizes cannot be held in one array; "
                                 f"build the config with one image_size (64 reproduces the release)")
            x[at: at + len(images)] = images
            at += len(images)
    return x


def continuum_scenario(ds, split: str = "train", scenario: str = "class", order: str = "standard", sources=None,
                       source: str = "both", test_source: str | None = None, paper_loader: bool = False,
                       transformations=None):
    """A Continuum scenario over one split: one task set per task, of disjoint classes.

    ``"class"``: ``continuum.ClassIncremental`` with one increment per task; class ids are the
    class-incremental ids made dense over the classes present (the same as :func:`avalanche_benchmark`'s
    0..599 when every class is present). ``"task"``: ``continuum.ContinualScenario`` with
    ``task_label`` targets and the stream position as task id.

    Memory: Continuum keeps a split in memory, so this decodes the split's images into one uint8
    array, 12,288 bytes per 64-px image (about 1.2 GB per 100,000 images), plus 16 bytes of labels
    per image; it is filled 1,000 images at a time, so decoding adds little on top. Build the config
    at ``image_size=64`` (images must share one size).
    """
    from continuum import ClassIncremental, ContinualScenario
    from continuum.datasets import InMemoryDataset

    _check(scenario)
    stream = streams.tasks(ds, order=order, source=source, sources=sources, test_source=test_source,
                           paper_loader=paper_loader, splits=(split,))
    views = [(task, task.splits[split]) for task in stream if len(task.splits[split])]
    if not views:
        raise streams.StreamError(f"the {split!r} split holds no rows for these options")
    x = _images(views, sum(len(view) for _, view in views))
    y = np.concatenate([task_pairs(task, split, scenario).targets for task, _ in views]).astype(np.int64)
    t = np.concatenate([np.full(len(view), task.position, dtype=np.int64) for task, view in views])
    if scenario == "task":
        return ContinualScenario(InMemoryDataset(x, y, t), transformations=transformations)
    present, dense = np.unique(y, return_inverse=True)
    increments = [int(np.count_nonzero(present // CLASSES_PER_TASK == p)) for p in np.unique(t)]
    return ClassIncremental(InMemoryDataset(x, dense, t), increment=increments, transformations=transformations)
