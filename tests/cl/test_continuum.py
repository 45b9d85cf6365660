"""Continuum on a config: class-incremental task sets of disjoint classes, and task-incremental ones."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torchvision", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")
pytest.importorskip("continuum", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")

import torch  # noqa: E402

from conversion.contract import tables  # noqa: E402
from conversion.samples.tensor_release import release_folder  # noqa: E402
from conversion.sources import release  # noqa: E402
from conversion.uses import cl_libraries, streams  # noqa: E402
from tests.uses.test_paper_loader import paper_ds, paper_release  # noqa: E402,F401  (fixtures)

from .conftest import rows  # noqa: E402


@pytest.mark.parametrize("order", ["standard", "backwards"])
def test_class_incremental_task_sets(ds, order):
    scenario = cl_libraries.continuum_scenario(ds, split="train", scenario="class", order=order)
    stream = streams.tasks(ds, order=order)
    assert scenario.nb_tasks == 6 and len(scenario) == 6
    seen = set()
    for position, (taskset, task) in enumerate(zip(scenario, stream)):
        expected = rows(ds, "train", task.index)
        class_ids = [position * 100 + t for t in expected["task_label"]]
        assert class_ids == [cl_libraries.class_order(stream).index(label) for label in expected["label"]]
        assert taskset.get_classes().tolist() == sorted(set(class_ids))
        assert not seen & set(class_ids)
        seen |= set(class_ids)
        assert len(taskset) == len(expected["label"])
        _, y, t = taskset.get_raw_samples(np.arange(len(taskset)))
        assert y.tolist() == class_ids and set(t.tolist()) == {position}
    assert len(seen) == 12


def test_a_class_keeps_its_id_when_a_split_lacks_an_earlier_class(ds):
    """Test rows of one class of task 0 removed (a filtered view): every other class keeps its train id."""
    dropped = rows(ds, "test", 0)["label"][0]
    filtered = {"train": ds["train"], "test": ds["test"].filter(lambda label: label != dropped, input_columns="label")}
    train = cl_libraries.continuum_scenario(filtered, split="train")
    test = cl_libraries.continuum_scenario(filtered, split="test")
    ids = {}
    for split, scenario in (("train", train), ("test", test)):
        for position, taskset in enumerate(scenario):
            _, y, _ = taskset.get_raw_samples(np.arange(len(taskset)))
            labels = rows(filtered, split, position)["label"]
            for label, class_id in zip(labels, y.tolist()):
                assert ids.setdefault(label, class_id) == class_id, (split, label)
    assert dropped not in rows(filtered, "test", 0)["label"] and len(ids) == 12


def test_task_sets_hold_row_indices_not_pixels(ds):
    """The images stay in datasets' memory-mapped cache: a task set's x is a DecodedRows, not a numpy copy."""
    from conversion.uses.decoded_rows import DecodedRows

    taskset = cl_libraries.continuum_scenario(ds, split="train")[3]
    x, _, _ = taskset.get_raw_samples()
    assert isinstance(x, DecodedRows) and x.shape == (4, 64, 64, 3)
    view = streams.tasks(ds)[3].train
    for i in range(len(view)):
        assert np.array_equal(x[i], np.array(view[i]["image"]))
    assert np.array_equal(np.asarray(x), np.stack([np.array(view[i]["image"]) for i in range(len(view))]))
    taskset.add_samples(*cl_libraries.continuum_scenario(ds, split="train")[0].get_raw_samples())  # rehearsal
    assert len(taskset) == 8 and taskset[7][0].shape == (3, 64, 64)


@pytest.mark.parametrize("preprocess", ["normalized", "unnormalized"])
def test_the_papers_inputs(paper_release, paper_ds, preprocess):  # noqa: F811 (the fixtures imported above)
    """normalized gives the release's X.pt rows exactly; unnormalized the paper's X * std + mean."""
    scenario = cl_libraries.continuum_scenario(paper_ds, split="train", source="ai", preprocess=preprocess)
    view = streams.tasks(paper_ds, source="ai")[4].train
    x_pt = torch.load(release_folder(paper_release, "original", "sdv14", 4, "train", "ai") / "X.pt", weights_only=True)
    constants = tables.release_pixels()
    mean, std = (torch.tensor(constants[k], dtype=torch.float32).view(1, 3, 1, 1) for k in ("mean", "std"))
    expected = x_pt if preprocess == "normalized" else x_pt * std + mean
    taskset = scenario[4]
    for i, name in enumerate(view["file_name"]):
        assert torch.equal(taskset[i][0], expected[release.release_index(name)])


def test_validation_split(ds, tmp_path_factory, build):
    from conversion.samples.genimage_tree import make_sample_tree

    three = build("sdv14", make_sample_tree(tmp_path_factory.mktemp("c") / "GenImage", generators=["sdv14"],
                                            images_per_class=3))
    valid = cl_libraries.continuum_scenario(three, split="validation", validation=0.34, validation_seed=1)
    train = cl_libraries.continuum_scenario(three, split="train", validation=0.34, validation_seed=1)
    stream = streams.tasks(three, validation=0.34, validation_seed=1)
    for position, (held, kept) in enumerate(zip(valid, train)):
        assert len(held) == len(stream[position].validation) == 4 and len(kept) == 8
        assert held.get_classes().tolist() == kept.get_classes().tolist()
    with pytest.raises(ValueError, match="'validation' split needs validation=fraction"):
        cl_libraries.continuum_scenario(three, split="validation")
    with pytest.raises(ValueError, match="preprocess= or transformations="):
        cl_libraries.continuum_scenario(three, preprocess="unit", transformations=[])


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
