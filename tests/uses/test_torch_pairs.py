"""Pairs: the decoded uint8 column by default (the same pixels as decoding row by row), batches, extras."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conversion.contract import tables
from conversion.uses import paper_inputs, streams
from conversion.uses.torch_pairs import Pairs


@pytest.fixture(scope="module")
def stream(sample_root, build):
    return streams.tasks(build("sdv14", sample_root), order="backwards")


def test_decoded_pairs_give_the_rows_pixels(stream):
    view = stream[1].train
    decoded, lazy = Pairs(view), Pairs(view, decoded=False)
    assert decoded.pixels is not None and lazy.pixels is None
    for i in range(len(view)):
        image, target = decoded[i]
        assert image.dtype == torch.uint8 and image.shape == (3, 64, 64)
        assert torch.equal(image, lazy[i][0])
        assert torch.equal(image, torch.from_numpy(np.array(view[i]["image"])).permute(2, 0, 1))
        assert target == view[i]["task_label"] == lazy[i][1]


@pytest.mark.parametrize("transform", [None, paper_inputs.normalized, lambda image: image.flip(-1)])
def test_a_batch_is_its_rows(stream, transform):
    pairs = Pairs(stream[0].train, target="class_il", transform=transform, extras=("source",))
    indices = [3, 0, 2]
    batch = pairs.__getitems__(indices)
    for (image, target, source), i in zip(batch, indices):
        one = pairs[i]
        assert torch.equal(image, one[0]) and (target, source) == one[1:]


def test_extras_give_position_and_source_beside_the_target(stream):
    task = stream[2]
    pairs = Pairs(task.train, extras=("position", "source", "task"), position=task.position)
    sources = task.train["source"]
    for i in range(len(pairs)):
        _, target, position, source, index = pairs[i]
        assert (position, index) == (2, task.index) == (2, 3)
        assert source == sources[i] and tables.SOURCES[source] in ("ai", "nature")
    batch = torch.utils.data.default_collate(pairs.__getitems__(list(range(len(pairs)))))
    assert batch[2].tolist() == [2] * len(pairs) and batch[3].tolist() == list(sources)


def test_bad_extras_fail_naming_them(stream):
    with pytest.raises(ValueError, match="extras must be among .*got 'replay'"):
        Pairs(stream[0].train, extras=("replay",))
    with pytest.raises(ValueError, match="pass position="):
        Pairs(stream[0].train, extras=("position",))


def test_original_size_views_read_row_by_row(sample_root, build):
    view = streams.tasks(build("sdv14-task1", sample_root, image_size=None))[0].train
    with pytest.raises(ValueError, match="images must all have one size.*decoded=False"):
        Pairs(view)
    pairs = Pairs(view, decoded=False)
    assert pairs[0][0].dtype == torch.uint8 and pairs[0][0].shape[0] == 3
