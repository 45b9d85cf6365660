"""Continual-learning libraries on a loaded config: Avalanche benchmarks and Continuum scenarios.

Both cut the config into its six tasks with :func:`conversion.uses.streams.tasks` (same ``order``,
``source``, ``sources``, ``test_source`` and ``paper_loader`` options) and give each task its targets:

- ``scenario="class"`` (class-incremental): one label space over the stream, ids 0..599 in stream
  order, i.e. ``class_order(stream).index(label)`` = position * 100 + ``task_label``;
- ``scenario="task"`` (task-incremental): ``task_label`` (0..99 within the task) and the task's
  position in the stream as task label.

With ``paper_loader=True`` the paper loader's ranks replace ``task_label`` in both. The same class has
the same id in every split and library, whatever rows a split holds.

``preprocess`` chooses the model inputs (:mod:`conversion.uses.paper_inputs`): ``"unit"`` (x / 255, the
default), ``"normalized"`` (the release's ``X.pt`` values) or ``"unnormalized"`` (the paper's training
inputs). ``validation=fraction`` carves a validation split from train (:mod:`conversion.uses.validation`).
Images come from the uint8 column decoded once and memory-mapped (:class:`conversion.uses.torch_pairs.Pairs`),
so memory does not grow with the config.

Avalanche, Continuum and torchvision are imported only by the functions that need them (they live in
the CL environment, ``requirements-cl.txt``).
"""

from __future__ import annotations

import datasets
import numpy as np

from conversion.contract import tables
from conversion.uses import avalanche_batches, continuum_batches, model_inputs, paper_inputs, streams, uint8_batches
from conversion.uses.decoded_rows import DecodedRows
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


def task_targets(task, split: str, scenario: str) -> dict[int, int]:
    """``task_label`` -> the task's target in ``scenario`` (paper ranks when the stream has them)."""
    ranks = task.ranks[split] if task.ranks is not None else {label: label for label in range(len(task.labels))}
    base = task.position * CLASSES_PER_TASK if scenario == "class" else 0
    return {label: base + rank for label, rank in ranks.items()}


def _check(scenario: str) -> None:
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")


def task_pairs(task, split: str, scenario: str, **pairs_options) -> Pairs:
    """The task's view of ``split`` as (image, target) pairs with the scenario's targets (``pairs_options``:
    more :class:`Pairs` arguments, e.g. ``extras=("position", "source")``)."""
    targets = task_targets(task, split, scenario)
    return Pairs(task.splits[split], target="task_label", target_transform=targets.__getitem__,
                 position=task.position, **pairs_options)


def _transforms(transform, eval_transform, preprocess: str | None):
    """(training, evaluation) transforms: the ones given, or the ``preprocess`` transform (default ``"unit"``)."""
    if preprocess is not None and (transform or eval_transform):
        raise ValueError("give preprocess= or transform=/eval_transform=, not both")
    train = transform or paper_inputs.transform(preprocess or "unit")
    return train, eval_transform or train


def avalanche_benchmark(ds, scenario: str = "class", order: str = "standard", sources=None, transform=None,
                        eval_transform=None, source: str = "both", test_source: str | None = None,
                        paper_loader: bool = False, preprocess: str | None = None, validation: float = 0.0,
                        validation_seed: int = 0, decoded: bool = True, cache_inputs: bool = True):
    """An Avalanche benchmark with one train and one test experience per task (6 of each for a generator),
    and a ``valid_stream`` of one experience per task when ``validation`` is given.

    Experiences carry ``classes_in_this_experience`` (and the rest of Avalanche's class timeline),
    so ``IncrementalClassifier`` grows with them; with ``scenario="task"`` they carry task labels
    (``task_label`` = position in the stream) for ``MultiTaskModule`` heads such as
    ``MultiHeadClassifier``. Images are uint8 CxHxW tensors passed through ``transform`` (training)
    or ``eval_transform`` (evaluation; default ``transform``), Avalanche's transform groups; without them,
    through the ``preprocess`` transform (default ``"unit"``), which :class:`Pairs` applies (before any
    transform group added later). They come from the decoded uint8 column (:class:`Pairs`); ``decoded=False``
    decodes them row by row instead, for configs of original-size images (then resize them in ``transform``).
    A DataLoader over an experience's dataset fetches each batch at once while no transform group is active
    (:mod:`conversion.uses.avalanche_batches`). The ``preprocess`` inputs are computed once into datasets'
    cache (4 times the decoded column's bytes on disk) unless ``cache_inputs=False`` (:class:`Pairs`).
    """
    from avalanche.benchmarks.scenarios.dataset_scenario import benchmark_from_datasets
    from avalanche.benchmarks.scenarios.supervised import with_classes_timeline
    from avalanche.benchmarks.scenarios.task_aware import with_task_labels

    # exported by avalanche.benchmarks.utils (its __all__): how Avalanche's own benchmarks give a
    # dataset its targets and task labels without reading every row
    from avalanche.benchmarks.utils import _make_taskaware_classification_dataset

    _check(scenario)
    stream = streams.tasks(ds, order=order, source=source, sources=sources, test_source=test_source,
                           paper_loader=paper_loader, validation=validation, validation_seed=validation_seed)
    train_transform, evaluation = _transforms(transform, eval_transform, preprocess)
    # the paper's inputs (the same for training and evaluation) are made by Pairs, a batch at a time
    inputs = train_transform if transform is None and eval_transform is None else None
    groups = None if inputs else {"train": train_transform, "eval": evaluation}
    splits = (("train", "train", "train"), ("valid", "validation", "eval"), ("test", "test", "eval"))
    experiences = {name: [] for name, split, _ in splits if split in stream[0].splits}
    for task in stream:
        for name, split, group in splits:
            if name in experiences:
                pairs = task_pairs(task, split, scenario, decoded=decoded, transform=inputs,
                                   cache_inputs=cache_inputs)
                experiences[name].append(avalanche_batches.batched(_make_taskaware_classification_dataset(
                    pairs, targets=pairs.targets, task_labels=task.position if scenario == "task" else 0,
                    transform_groups=groups, initial_transform_group=group)))
    benchmark = with_classes_timeline(benchmark_from_datasets(**experiences))
    for avalanche_stream in benchmark.streams.values():
        for experience in avalanche_stream:
            for name in TIMELINE:
                setattr(experience, name, sorted(getattr(experience, name)))
    return with_task_labels(benchmark) if scenario == "task" else benchmark


def _pixels(views, preprocess: str | None = None) -> DecodedRows:
    """The views' images, decoded once into datasets' cache, as one memory-mapped array of HxWx3 rows; with
    the ``preprocess`` inputs of the same rows computed once too (:mod:`conversion.uses.model_inputs`)."""
    decoded = []
    for task, view in views:
        try:
            decoded.append(uint8_batches.decoded_uint8(view).select_columns(["image"]))
        except ValueError as err:
            if uint8_batches.ONE_SIZE not in str(err):
                raise
            raise ValueError(f"task {task.index}: images of different sizes cannot be held in one array; "
                             f"build the config with one image_size (64 reproduces the release)") from None
    sizes = {part.features["image"].shape for part in decoded}
    if len(sizes) > 1:
        raise ValueError(f"tasks hold images of sizes {sorted(sizes)}: {uint8_batches.ONE_SIZE}")
    pixels = datasets.concatenate_datasets(decoded)
    inputs = {preprocess: model_inputs.MappedRows(model_inputs.computed(pixels, preprocess))} if preprocess else {}
    return DecodedRows(uint8_batches.ArrowBatches(pixels), inputs=inputs)


def _continuum_transformations(transformations, preprocess: str | None):
    """Continuum's transformations (applied to each image as Pillow gives it): the ones given, or the
    ``preprocess`` transform after ``PILToTensor`` (default: Continuum's own ``ToTensor``, i.e. ``"unit"``)."""
    if preprocess is None:
        return transformations
    if transformations is not None:
        raise ValueError("give preprocess= or transformations=, not both")
    from torchvision.transforms import PILToTensor

    return [PILToTensor(), paper_inputs.transform(preprocess)]


def continuum_scenario(ds, split: str = "train", scenario: str = "class", order: str = "standard", sources=None,
                       source: str = "both", test_source: str | None = None, paper_loader: bool = False,
                       transformations=None, preprocess: str | None = None, validation: float = 0.0,
                       validation_seed: int = 0, cache_inputs: bool = True):
    """A Continuum ``ContinualScenario`` over one split (``"train"``, ``"test"``, or ``"validation"`` carved
    from train with ``validation=fraction``): one task set per task, task id = stream position.

    Targets: ``"class"``: the class-incremental ids of :func:`avalanche_benchmark` (position * 100 +
    ``task_label``, 0..599), the same ids for a class in every split whatever rows a split holds;
    ``"task"``: ``task_label``. Images are HxWx3 uint8 rows read from the decoded column cached and
    memory-mapped by datasets (:class:`conversion.uses.decoded_rows.DecodedRows`): a task set holds row
    indices, not pixels, so memory stays flat. Build the config at one ``image_size`` (64 is the release's).
    With ``preprocess``, its inputs are computed once into datasets' cache (4 times the decoded column's
    bytes on disk) and batches read them, unless ``cache_inputs=False``
    (:mod:`conversion.uses.continuum_batches`).
    """
    from continuum import ContinualScenario
    from continuum.datasets import InMemoryDataset

    _check(scenario)
    base = "train" if split == "validation" else split
    stream = streams.tasks(ds, order=order, source=source, sources=sources, test_source=test_source,
                           paper_loader=paper_loader, splits=(base,), validation=validation,
                           validation_seed=validation_seed)
    if split not in stream[0].splits:
        raise streams.StreamError(f"split {split!r}: the 'validation' split needs validation=fraction")
    empty = [task.index for task in stream if not len(task.splits[split])]
    if len(empty) == len(stream):
        raise streams.StreamError(f"the {split!r} split holds no rows for these options")
    if empty:
        raise streams.StreamError(f"the {split!r} split holds no rows of task(s) {empty} for these options; "
                                  f"Continuum numbers tasks by the rows it holds, so every task needs some")
    views = [(task, task.splits[split]) for task in stream]
    transformations = _continuum_transformations(transformations, preprocess)
    x = _pixels(views, preprocess if cache_inputs else None)
    y = np.concatenate([task_pairs(task, split, scenario, decoded=False).targets for task, _ in views])
    t = np.concatenate([np.full(len(view), task.position, dtype=np.int64) for task, view in views])
    dataset = InMemoryDataset(x, y.astype(np.int64), t)
    return continuum_batches.scenario(
        ContinualScenario(dataset, transformations=transformations))
