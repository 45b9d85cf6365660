"""The paper loader's exact view (docs/paper-loader.md#loader-rules) on streams and paper_tensors, and per-task sources.

A release with 12 rows per (task, split, source) is written from a sample tree; the paper's loader
is re-done here from its X.pt/y.pt (first floor(N / 10) * 10 rows, labels ranked) and compared.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conversion.contract import tables
from conversion.samples.genimage_tree import make_sample_tree
from conversion.samples.tensor_release import make_sample_release, release_folder
from conversion.uses import streams
from conversion.uses.tensors import paper_tensors


@pytest.fixture(scope="module")
def paper_release(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper")
    tree = make_sample_tree(root / "GenImage", generators=["sdv14"], images_per_class=6)
    return make_sample_release(tree, root / "release", generators=["sdv14"])


@pytest.fixture(scope="module")
def paper_ds(paper_release, build):
    return build("sdv14", paper_release)


def _paper_loader(release, task, split, source):
    """The paper's loader on one pair: first floor(N/10)*10 rows, y as rank among its unique values."""
    folder = release_folder(release, "original", "sdv14", task, split, source)
    x = torch.load(folder / "X.pt", weights_only=True)
    y = torch.load(folder / "y.pt", weights_only=True)
    keep = len(y) // 10 * 10
    ranks = np.unique(y[:keep].numpy(), return_inverse=True)[1]
    return x[:keep], torch.from_numpy(ranks.astype(np.int64))


def test_paper_tensors_equal_the_papers_loader(paper_release, paper_ds):
    parts = paper_tensors(paper_ds["train"], paper_loader=True)
    assert sorted(parts) == sorted((t, s) for t in range(6) for s in tables.SOURCES)
    for (task, source), (x, y) in parts.items():
        expected_x, expected_y = _paper_loader(paper_release, task, "train", source)
        assert len(y) == 10
        assert torch.equal(x, expected_x) and torch.equal(y, expected_y)


def test_stream_views_hold_the_papers_rows_and_ranks(paper_release, paper_ds):
    stream = streams.tasks(paper_ds, paper_loader=True, source="ai")
    for task in stream:
        for split in ("train", "test"):
            view = task.splits[split]
            x, y = _paper_loader(paper_release, task.index, split, "ai")
            names = view["file_name"]
            assert len(names) == 10 and [int(n.rsplit("/", 1)[1]) for n in names] == list(range(10))
            ranks = [task.ranks[split][t] for t in view["task_label"]]
            assert ranks == y.tolist()
            u8 = torch.stack([torch.from_numpy(np.array(r["image"])).permute(2, 0, 1) for r in view])
            (key, (x_view, _)), = paper_tensors(view, dtype="uint8").items()   # a view with an indices mapping
            assert key == (task.index, "ai") and torch.equal(u8, x_view)


def test_per_task_sources_and_natural_test_stream(paper_ds):
    chosen = ["ai", "ai", "nature", "nature", "nature", "nature"]
    stream = streams.tasks(paper_ds, order="backwards", sources=chosen)
    for task, source in zip(stream, chosen):
        assert set(task.train["source"]) == {tables.SOURCES.index(source)}
        assert set(task.test["source"]) == {tables.SOURCES.index("nature")}
    asked = streams.tasks(paper_ds, sources=chosen, test_source="ai")
    assert all(set(t.test["source"]) == {tables.SOURCES.index("ai")} for t in asked)
    with pytest.raises(streams.StreamError, match="one per task"):
        streams.tasks(paper_ds, sources=["ai"] * 5)
    with pytest.raises(streams.StreamError, match="sources entries"):
        streams.tasks(paper_ds, sources=["ai"] * 5 + ["real"])


def test_one_split_fails_at_once(paper_ds, monkeypatch):
    import datasets

    def no_iteration(self):
        raise AssertionError("tasks() iterated the rows")

    monkeypatch.setattr(datasets.Dataset, "__iter__", no_iteration)
    with pytest.raises(streams.StreamError) as error:
        streams.tasks(paper_ds["train"])
    message = str(error.value)
    assert "DatasetDict" in message and "\n" not in message and len(message) < 200


def test_paper_tensors_clear_errors(paper_ds):
    with pytest.raises(ValueError, match=r"one split .*'train', 'test'"):
        paper_tensors(paper_ds)
    with pytest.raises(ValueError, match="no rows of task=7"):
        paper_tensors(paper_ds["train"], task=7)
    only_ai = streams.tasks(paper_ds, source="ai")[2].train
    with pytest.raises(ValueError, match=r"no rows of source='nature' .*\(2, 'ai'\)"):
        paper_tensors(only_ai, source="nature")
