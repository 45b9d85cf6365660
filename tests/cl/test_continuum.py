"""Continuum on a config: class-incremental task sets of disjoint classes, and task-incremental ones."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torchvision", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")
pytest.importorskip("continuum", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")

import torch  # noqa: E402

from conversion.contract import tables  # noqa: E402
from conversion.uses import cl_libraries, streams  # noqa: E402

from .conftest import rows  # noqa: E402


@pytest.mark.parametrize("order", ["standard", "backwards"])
def test_class_incremental_task_sets(ds, order):
    scenario = cl_libraries.continuum_scenario(ds, split="train", scenario="class", order=order)
    stream = streams.tasks(ds, order=order)
    assert scenario.nb_tasks == 6 and len(scenario) == 6
    dense = sorted({cl_libraries.class_order(stream).index(label) for task in stream for label in task.train["label"]})
    seen = set()
    for position, (taskset, task) in enumerate(zip(scenario, stream)):
        expected = rows(ds, "train", task.index)
        class_ids = [dense.index(position * 100 + t) for t in expected["task_label"]]
        assert taskset.get_classes().tolist() == sorted(set(class_ids))
        assert not seen & set(class_ids)
        seen |= set(class_ids)
        assert len(taskset) == len(expected["label"])
        _, y, t = taskset.get_raw_samples(np.arange(len(taskset)))
        assert sorted(y.tolist()) == sorted(class_ids) and set(t.tolist()) == {position}
    assert sorted(seen) == list(range(12))


def test_task_incremental_images_and_labels(ds):
    chosen = ["ai", "ai", "ai", "nature", "nature", "nature"]
    scenario = cl_libraries.continuum_scenario(ds, split="test", scenario="task", sources=chosen, test_source="ai")
    stream = streams.tasks(ds, splits=("test",), source="ai")
    assert scenario.nb_tasks == 6
    for position, taskset in enumerate(scenario):
        view = stream[position].test
        x, y, t = taskset[0]
        assert t == position and y == view[0]["task_label"]
        assert torch.equal(x, torch.from_numpy(np.array(view[0]["image"])).permute(2, 0, 1).float() / 255)
        assert len(taskset) == len(rows(ds, "test", position, "ai")["label"])


def test_images_of_different_sizes_are_refused(sample_root, build):
    original = build("sdv14-task1", sample_root, image_size=None)
    with pytest.raises(ValueError, match="task 1: images of different sizes"):
        cl_libraries.continuum_scenario(original)


def test_papers_reversed_benchmark_tested_on_each_tasks_own_source(sample_root, build, ds):
    reversed_ds = build("disjoint-reversed", sample_root)
    chosen = ["ai", "nature", "ai", "nature", "ai", "nature"]
    scenario = cl_libraries.continuum_scenario(reversed_ds, split="test", scenario="task", order="reversed",
                                               sources=["nature"] * 6, test_source=chosen)
    stream = streams.tasks(reversed_ds, splits=("test",), order="reversed", sources=["nature"] * 6,
                           test_source=chosen)
    assert scenario.nb_tasks == 6
    for position, (taskset, task) in enumerate(zip(scenario, stream)):
        _, y, t = taskset.get_raw_samples(np.arange(len(taskset)))
        assert len(taskset) == len(task.test) and set(t.tolist()) == {position}
        assert y.tolist() == task.test["task_label"]
        assert set(task.test["source"]) == {tables.SOURCES.index(chosen[position])}
    with pytest.raises(streams.StreamError, match="test_source has 5 entries"):
        cl_libraries.continuum_scenario(ds, split="test", sources=["ai"] * 6, test_source=["ai"] * 5)
