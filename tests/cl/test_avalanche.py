"""Avalanche on a config: class- and task-incremental benchmarks, orders, sources, four strategies."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torchvision", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")
pytest.importorskip("avalanche", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")

import torch  # noqa: E402
from avalanche.evaluation.metrics import accuracy_metrics  # noqa: E402
from avalanche.models import IncrementalClassifier, MultiHeadClassifier, MultiTaskModule  # noqa: E402
from avalanche.training import EWC, LwF, Naive, Replay  # noqa: E402
from avalanche.training.plugins import EvaluationPlugin  # noqa: E402
from torchvision.transforms import v2  # noqa: E402

from conversion.contract import tables  # noqa: E402
from conversion.uses import cl_libraries, streams
from conversion.uses.torch_pairs import Pairs  # noqa: E402
from tests.uses.test_paper_loader import _paper_loader, paper_ds, paper_release  # noqa: E402,F401  (fixtures)

from .conftest import rows  # noqa: E402

STRATEGIES = {
    "naive": (Naive, {}),
    "lwf": (LwF, {"alpha": 1.0, "temperature": 2.0}),
    "replay": (Replay, {"mem_size": 6}),
    "ewc": (EWC, {"ewc_lambda": 0.1}),
}


def _train(strategy_class, model, benchmark, **kwargs):
    evaluator = EvaluationPlugin(accuracy_metrics(experience=True), loggers=[])
    strategy = strategy_class(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
                              criterion=torch.nn.CrossEntropyLoss(), train_mb_size=4, train_epochs=1,
                              eval_mb_size=8, evaluator=evaluator, **kwargs)
    for experience in benchmark.train_stream:
        strategy.train(experience, num_workers=0)
    return strategy, strategy.eval(benchmark.test_stream, num_workers=0)


def test_class_order_is_the_streams_labels(ds):
    standard, backwards = streams.tasks(ds), streams.tasks(ds, order="backwards")
    assert cl_libraries.class_order(standard) == [label for labels in tables.task_classes() for label in labels]
    assert len(cl_libraries.class_order(standard)) == 600 == len(set(cl_libraries.class_order(standard)))
    assert cl_libraries.class_order(backwards) == [
        label for labels in reversed(tables.task_classes()) for label in labels]


@pytest.mark.parametrize("order", ["standard", "backwards"])
def test_class_incremental_experiences(ds, order):
    benchmark = cl_libraries.avalanche_benchmark(ds, scenario="class", order=order)
    stream = streams.tasks(ds, order=order)
    indices = [t.index for t in stream]
    assert indices == (list(range(6)) if order == "standard" else list(range(5, -1, -1)))
    for name, split in (("train_stream", "train"), ("test_stream", "test")):
        experiences = list(getattr(benchmark, name))
        assert len(experiences) == 6
        seen = []
        for position, (experience, task) in enumerate(zip(experiences, indices)):
            expected = rows(ds, split, task)
            class_ids = [cl_libraries.class_order(stream).index(label) for label in expected["label"]]
            assert sorted(set(class_ids)) == experience.classes_in_this_experience
            assert class_ids == [position * 100 + t for t in expected["task_label"]]
            assert experience.previous_classes == sorted(seen)
            assert len(experience.dataset) == len(expected["label"])
            assert list(experience.dataset.targets) == class_ids
            pairs = Pairs(stream[position].splits[split], target="class_il",
                          class_order=cl_libraries.class_order(stream))
            assert pairs.targets == class_ids
            seen += sorted(set(class_ids))


def test_images_reach_the_model_as_floats(ds):
    experience = cl_libraries.avalanche_benchmark(ds).train_stream[2]
    x, y, t = experience.dataset[0]
    row = streams.tasks(ds)[2].train[0]
    assert x.dtype == torch.float32 and t == 0
    assert torch.equal(x, torch.from_numpy(np.array(row["image"])).permute(2, 0, 1).float() / 255)
    assert y == 200 + row["task_label"]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_strategies_with_an_incremental_classifier(ds, name):
    strategy_class, kwargs = STRATEGIES[name]
    benchmark = cl_libraries.avalanche_benchmark(ds, scenario="class")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64 * 64, 8), torch.nn.ReLU(),
                                IncrementalClassifier(8, initial_out_features=2))
    strategy, results = _train(strategy_class, model, benchmark, **kwargs)
    last_class = max(benchmark.train_stream[5].classes_in_this_experience)
    assert model[-1].classifier.out_features == last_class + 1 == 502
    accuracies = [key for key in results if key.startswith("Top1_Acc_Exp/eval_phase/test_stream")]
    assert len(accuracies) == 6
    if name == "replay":
        buffer = strategy.plugins[0].storage_policy.buffer
        assert len(buffer) == 6 and set(buffer.targets) <= set(benchmark.train_stream[5].classes_seen_so_far)


class TwoLayerMultiHead(MultiTaskModule):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64 * 64, 8), torch.nn.ReLU())
        self.heads = MultiHeadClassifier(8, initial_out_features=2)

    def forward_single_task(self, x, task_label):
        return self.heads(self.features(x), task_label)


@pytest.mark.parametrize("name", ["naive", "lwf"])
def test_task_incremental_with_a_multitask_module(ds, name):
    benchmark = cl_libraries.avalanche_benchmark(ds, scenario="task", order="backwards")
    for position, (experience, task) in enumerate(zip(benchmark.train_stream, range(5, -1, -1))):
        expected = rows(ds, "train", task)
        assert experience.task_label == position and set(experience.dataset.targets_task_labels) == {position}
        assert experience.classes_in_this_experience == sorted(set(expected["task_label"]))
        assert list(experience.dataset.targets) == expected["task_label"]
    model = TwoLayerMultiHead()
    strategy_class, kwargs = STRATEGIES[name]
    _, results = _train(strategy_class, model, benchmark, **kwargs)
    assert sorted(model.heads.classifiers) == [str(p) for p in range(6)]
    assert len([key for key in results if key.startswith("Top1_Acc_Exp/eval_phase/test_stream")]) == 6


def test_one_source_per_task_and_natural_tests(ds):
    chosen = ["ai", "ai", "nature", "nature", "nature", "nature"]
    benchmark = cl_libraries.avalanche_benchmark(ds, sources=chosen)
    for task, (train, test) in enumerate(zip(benchmark.train_stream, benchmark.test_stream)):
        assert len(train.dataset) == len(rows(ds, "train", task, chosen[task])["label"]) == 2
        assert len(test.dataset) == len(rows(ds, "test", task, "nature")["label"]) == 2
        first = streams.tasks(ds, source=chosen[task])[task].train[0]["image"]
        assert torch.equal(train.dataset[0][0], torch.from_numpy(np.array(first)).permute(2, 0, 1).float() / 255)


def test_bad_scenario(ds):
    with pytest.raises(ValueError, match="scenario"):
        cl_libraries.avalanche_benchmark(ds, scenario="domain")


def test_the_papers_exact_view(paper_release, paper_ds):  # noqa: F811 (the fixtures imported above)
    benchmark = cl_libraries.avalanche_benchmark(paper_ds, scenario="class", source="ai", test_source="ai",
                                                 paper_loader=True)
    for name, split in (("train_stream", "train"), ("test_stream", "test")):
        for position, experience in enumerate(getattr(benchmark, name)):
            _, y = _paper_loader(paper_release, position, split, "ai")
            assert list(experience.dataset.targets) == [position * 100 + rank for rank in y.tolist()]
            assert experience.classes_in_this_experience == sorted({position * 100 + rank for rank in y.tolist()})


def test_papers_reversed_benchmark_tested_on_each_tasks_own_source(sample_root, build, ds):
    """order="reversed" on disjoint-reversed, and test_source per task (as main-steps.py: each task's own source)."""
    reversed_ds = build("disjoint-reversed", sample_root)
    chosen = ["ai", "ai", "nature", "nature", "nature", "nature"]
    benchmark = cl_libraries.avalanche_benchmark(reversed_ds, scenario="task", order="reversed", sources=chosen,
                                                 test_source=chosen)
    stream = streams.tasks(reversed_ds, order="reversed", sources=chosen, test_source=chosen)
    assert [t.generator for t in stream] == ["vqdm", "sdv14", "glide", "midjourney", "biggan", "adm"]
    for position, (train, test, task) in enumerate(zip(benchmark.train_stream, benchmark.test_stream, stream)):
        assert train.task_label == test.task_label == position
        for experience, view in ((train, task.train), (test, task.test)):
            assert set(view["source"]) == {tables.SOURCES.index(chosen[position])}
            assert list(experience.dataset.targets) == view["task_label"]
    with pytest.raises(streams.StreamError, match="load the config 'disjoint-reversed'"):
        cl_libraries.avalanche_benchmark(ds, order="reversed")


def test_a_valid_stream_carved_from_train(ds, tmp_path_factory, build):
    from conversion.samples.genimage_tree import make_sample_tree

    three = build("sdv14", make_sample_tree(tmp_path_factory.mktemp("a") / "GenImage", generators=["sdv14"],
                                            images_per_class=3))
    benchmark = cl_libraries.avalanche_benchmark(three, validation=0.34, validation_seed=2)
    stream = streams.tasks(three, validation=0.34, validation_seed=2)
    assert len(benchmark.valid_stream) == 6
    for position, (train, valid) in enumerate(zip(benchmark.train_stream, benchmark.valid_stream)):
        assert len(valid.dataset) == len(stream[position].validation) == 4 and len(train.dataset) == 8
        assert list(valid.dataset.targets) == [position * 100 + t for t in stream[position].validation["task_label"]]
        assert valid.classes_in_this_experience == train.classes_in_this_experience
    assert not hasattr(cl_libraries.avalanche_benchmark(three), "valid_stream")


@pytest.mark.parametrize("preprocess", ["normalized", "unnormalized"])
def test_the_papers_inputs(paper_release, paper_ds, preprocess):  # noqa: F811 (the fixtures imported above)
    """Training and evaluation images: X.pt's rows exactly (normalized), the paper's X * std + mean (unnormalized)."""
    from conversion.samples.tensor_release import release_folder
    from conversion.sources import release

    benchmark = cl_libraries.avalanche_benchmark(paper_ds, source="nature", test_source="nature", preprocess=preprocess)
    constants = tables.release_pixels()
    mean, std = (torch.tensor(constants[k], dtype=torch.float32).view(1, 3, 1, 1) for k in ("mean", "std"))
    for name, split in (("train_stream", "train"), ("test_stream", "test")):
        experience = getattr(benchmark, name)[1]
        x_pt = torch.load(release_folder(paper_release, "original", "sdv14", 1, split, "nature") / "X.pt",
                          weights_only=True)
        expected = x_pt if preprocess == "normalized" else x_pt * std + mean
        view = streams.tasks(paper_ds, source="nature")[1].splits[split]
        for i, file_name in enumerate(view["file_name"]):
            assert torch.equal(experience.dataset[i][0], expected[release.release_index(file_name)])
    with pytest.raises(ValueError, match="preprocess= or transform="):
        cl_libraries.avalanche_benchmark(paper_ds, preprocess="unit", transform=lambda x: x)


def test_replay_buffers_get_position_and_source_from_pairs(ds):
    stream = streams.tasks(ds, order="backwards")
    pairs = cl_libraries.task_pairs(stream[1], "train", "class", extras=("position", "source"))
    batch = next(iter(torch.utils.data.DataLoader(pairs, batch_size=4, num_workers=2)))
    images, targets, positions, sources = batch
    assert images.dtype == torch.uint8 and positions.tolist() == [1] * 4
    assert targets.tolist() == [100 + t for t in stream[1].train["task_label"]]
    assert sources.tolist() == list(stream[1].train["source"])


def test_original_size_images_need_decoded_false(sample_root, build):
    original = build("sdv14-task1", sample_root, image_size=None)
    with pytest.raises(ValueError, match="images must all have one size"):
        cl_libraries.avalanche_benchmark(original)
    resize = v2.Compose([v2.Resize((32, 32)), v2.ToDtype(torch.float32, scale=True)])
    benchmark = cl_libraries.avalanche_benchmark(original, transform=resize, decoded=False)
    x, y, _ = benchmark.train_stream[0].dataset[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert y == streams.tasks(original)[0].train[0]["task_label"]
