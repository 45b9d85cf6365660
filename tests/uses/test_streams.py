"""Task streams of a built config: order, contiguous views, class lists, sources, torch pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conversion.contract import tables
from conversion.uses import streams
from conversion.uses.torch_pairs import Pairs


def _column(view, name):
    return view.select_columns([name]).with_format("numpy")[:][name].tolist() if len(view) else []


def test_standard_order_covers_every_row_once(sample_root, build):
    ds = build("sdv14", sample_root)
    stream = streams.tasks(ds)
    assert [t.index for t in stream] == list(range(6)) == [t.position for t in stream]
    for split in ("train", "test"):
        names = [n for t in stream for n in _column(t.splits[split], "file_name")]
        assert names == ds[split]["file_name"]
    for task in stream:
        assert task.generator == "sdv14"
        for split in ("train", "test"):
            view = task.splits[split]
            assert len(view) > 0 and view._indices is None  # a contiguous slice, no indices mapping
            assert set(_column(view, "task")) == {task.index}


def test_backwards_order(sample_root, build):
    stream = streams.tasks(build("sdv14", sample_root), order="backwards")
    assert [t.index for t in stream] == [5, 4, 3, 2, 1, 0]
    assert [t.position for t in stream] == list(range(6))


def test_reversed_is_the_papers_reversed_benchmark(sample_root, build):
    """docs/paper-loader.md#task-orders: position k reads class set k of the k-th generator of the reversed order."""
    ds = build("disjoint-reversed", sample_root)
    stream = streams.tasks(ds, order="reversed")
    assert [t.generator for t in stream] == ["vqdm", "sdv14", "glide", "midjourney", "biggan", "adm"]
    assert [t.index for t in stream] == list(range(6)) == [t.position for t in stream]
    standard = streams.tasks(ds)
    for task, same in zip(stream, standard):
        for split in ("train", "test"):
            assert _column(task.splits[split], "file_name") == _column(same.splits[split], "file_name")
            assert set(_column(task.splits[split], "task")) == {task.index}


def test_reversed_needs_the_reversed_config_and_reverse_is_retired(sample_root, build):
    with pytest.raises(streams.StreamError, match="load the config 'disjoint-reversed'; this dataset holds adm on "
                                                  "task 0") as error:
        streams.tasks(build("disjoint", sample_root), order="reversed")
    assert "\n" not in str(error.value)
    with pytest.raises(streams.StreamError, match="holds sdv14 on task 0"):
        streams.tasks(build("sdv14", sample_root), order="reversed")
    with pytest.raises(streams.StreamError, match="order='reverse' is retired.*order='backwards'"):
        streams.tasks(build("sdv14", sample_root), order="reverse")
    with pytest.raises(streams.StreamError, match="order must be one of"):
        streams.tasks(build("sdv14", sample_root), order="random")


def test_class_list_follows_task_label(sample_root, build):
    for task in streams.tasks(build("sdv14", sample_root)):
        assert len(task.classes) == 100 == len(set(task.classes))
        assert task.labels == tables.task_classes()[task.index]
        clsloc = tables.clsloc_of_label()
        assert [clsloc[label] for label in task.labels] == sorted(clsloc[label] for label in task.labels)
        for split in ("train", "test"):
            view = task.splits[split]
            labels, task_labels = _column(view, "label"), _column(view, "task_label")
            assert [task.classes[t] for t in task_labels] == [tables.wnids()[label] for label in labels]
            assert [task.task_label_of[label] for label in labels] == task_labels


@pytest.mark.parametrize("source", ["ai", "nature"])
def test_source_views(source, sample_root, build):
    ds = build("sdv14", sample_root)
    both = streams.tasks(ds)
    one = streams.tasks(ds, source=source)
    source_id = tables.SOURCES.index(source)
    for task_both, task_one in zip(both, one):
        view = task_one.train
        assert set(_column(view, "source")) == {source_id}
        expected = [n for n, s in zip(_column(task_both.train, "file_name"), _column(task_both.train, "source"))
                    if s == source_id]
        assert _column(view, "file_name") == expected


def test_disjoint_generators_follow_task_order(sample_root, build):
    stream = streams.tasks(build("disjoint", sample_root))
    assert [t.generator for t in stream] == list(tables.task_order())
    assert [t.index for t in stream] == list(range(6))


def test_single_task_config(sample_root, build):
    (task,) = streams.tasks(build("adm-task2", sample_root), splits=("test",))
    assert (task.index, task.generator) == (2, "adm") and set(task.splits) == {"test"}


def test_shuffled_rows_are_refused(sample_root, build):
    ds = build("sdv14", sample_root)
    with pytest.raises(streams.StreamError, match="not sorted"):
        streams.tasks({"train": ds["train"].shuffle(seed=1), "test": ds["test"]})


def test_bad_options_are_refused(sample_root, build):
    ds = build("sdv14", sample_root)
    with pytest.raises(streams.StreamError, match="order"):
        streams.tasks(ds, order="random")
    with pytest.raises(streams.StreamError, match="source"):
        streams.tasks(ds, source="fake")
    with pytest.raises(streams.StreamError, match="validation"):
        streams.tasks(ds, splits=("train", "validation"))


def test_torch_pairs_feed_a_dataloader(sample_root, build):
    task = streams.tasks(build("sdv14", sample_root), source="ai")[3]
    pairs = Pairs(task.train)
    assert pairs.targets == _column(task.train, "task_label")
    images, targets = next(iter(torch.utils.data.DataLoader(pairs, batch_size=len(pairs))))
    assert images.dtype == torch.uint8 and tuple(images.shape) == (len(pairs), 3, 64, 64)
    assert targets.tolist() == pairs.targets
    assert np.array_equal(images[0].permute(1, 2, 0).numpy(), np.asarray(task.train[0]["image"]))


def test_torch_pairs_class_incremental_targets(sample_root, build):
    stream = streams.tasks(build("sdv14", sample_root), order="backwards")
    order = [label for task in stream for label in task.labels]
    task = stream[1]                                    # task 4, second in backwards order
    pairs = Pairs(task.test, target="class_il", class_order=order, target_transform=lambda t: -t)
    assert pairs.targets == [-(100 + t) for t in _column(task.test, "task_label")]
    assert pairs[0][1] == pairs.targets[0]
    assert Pairs(task.test, target="class_il").targets == [400 + t for t in _column(task.test, "task_label")]
    with pytest.raises(ValueError, match="not in class_order"):
        Pairs(task.test, target="class_il", class_order=order[:100])
    with pytest.raises(ValueError, match="target must be one of"):
        Pairs(task.test, target="wnid")
