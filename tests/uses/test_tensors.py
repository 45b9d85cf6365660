"""paper_tensors: a loaded split back to X/y tensors in the release's dtype and label notations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conversion.contract import tables
from conversion.samples.tensor_release import to_tensor_normalized
from conversion.sources import release
from conversion.uses.tensors import paper_tensors


@pytest.fixture(scope="module")
def train(sample_root, build):
    return build("sdv14", sample_root)["train"]


def test_uint8_and_float32_match_the_images(train):
    u8 = paper_tensors(train, dtype="uint8", labels="standard")
    f32 = paper_tensors(train, dtype="float32", labels="standard")
    assert sorted(u8) == sorted((t, s) for t in range(6) for s in tables.SOURCES)
    for (task, source), (x, y) in u8.items():
        rows = [r for r in train if r["task"] == task and tables.SOURCES[r["source"]] == source]
        assert x.dtype == torch.uint8 and x.shape == (len(rows), 3, 64, 64)
        assert y.tolist() == [r["label"] for r in rows]
        for image, row in zip(x, rows):
            assert torch.equal(image.permute(1, 2, 0), torch.from_numpy(np.array(row["image"])))
            assert torch.equal(to_tensor_normalized(row["image"]), f32[task, source].X[rows.index(row)])
        assert torch.equal(f32[task, source].X, release.normalize(x))


def test_label_notations(train):
    standard = paper_tensors(train, task=4, labels="standard")
    clsloc = paper_tensors(train, task=4, labels="clsloc")
    rank = paper_tensors(train, task=4, labels="rank")
    assert sorted(standard) == [(4, "ai"), (4, "nature")]
    task_clsloc = sorted({tables.clsloc_of_label()[label] - 1 for label in train["label"]
                          if label in tables.task_classes()[4]})
    for key in standard:
        labels = standard[key].y.tolist()
        assert clsloc[key].y.tolist() == [tables.clsloc_of_label()[label] - 1 for label in labels]
        assert rank[key].y.tolist() == [task_clsloc.index(v) for v in clsloc[key].y.tolist()]
        assert set(rank[key].y.tolist()) <= set(range(len(task_clsloc)))
    assert list(paper_tensors(train, source="nature")) == [(t, "nature") for t in range(6)]


def test_bad_arguments(train):
    with pytest.raises(ValueError, match="dtype"):
        paper_tensors(train, dtype="float16")
    with pytest.raises(ValueError, match="labels"):
        paper_tensors(train, labels="wnid")
    with pytest.raises(ValueError, match="source"):
        paper_tensors(train, source="real")
