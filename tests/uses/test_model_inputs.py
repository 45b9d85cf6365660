"""The paper's inputs computed once: the transform's exact values, rows viewing the cache copy-on-write."""

from __future__ import annotations

import hashlib
import pickle

import datasets
import numpy as np
import pytest
import torch

from conversion.uses import model_inputs, paper_inputs, streams, uint8_batches
from conversion.uses.torch_pairs import Pairs


@pytest.fixture(scope="module")
def view(sample_root, build):
    return streams.tasks(build("sdv14", sample_root))[2].train


@pytest.fixture(scope="module")
def decoded(view):
    return uint8_batches.decoded_uint8(view)


@pytest.mark.parametrize("preprocess", sorted(paper_inputs.PREPROCESS))
def test_rows_are_the_transform_of_the_decoded_pixels(decoded, preprocess):
    rows = model_inputs.MappedRows(model_inputs.computed(decoded, preprocess))
    pixels = torch.from_numpy(uint8_batches.ArrowBatches(decoded).gather("image", range(len(decoded))))
    expected = paper_inputs.transform(preprocess)(pixels)
    got = rows.rows(list(range(len(rows))))
    assert len(got) == len(decoded) > 0
    for image, want in zip(got, expected):
        assert image.dtype == torch.float32 and image.shape == (3, 64, 64)
        assert torch.equal(image, want)  # bit for bit
    assert torch.equal(rows.row(1), expected[1])


def test_rows_view_the_cache_file_and_writing_one_leaves_the_file(decoded):
    inputs = model_inputs.computed(decoded, "normalized")
    (path,) = [entry["filename"] for entry in inputs.cache_files]
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    rows = model_inputs.MappedRows(inputs)
    first, second = rows.rows([0, 0])
    before = first.clone()
    assert first.untyped_storage().data_ptr() == second.untyped_storage().data_ptr()  # a view, not a copy
    first.fill_(7.0)  # in place: this process's copy-on-write page only
    assert torch.equal(second, torch.full_like(second, 7.0))
    assert torch.equal(model_inputs.MappedRows(inputs).row(0), before)
    assert hashlib.sha256(open(path, "rb").read()).hexdigest() == digest


def test_rows_pickle_without_their_mapping_and_map_again(decoded):
    rows = model_inputs.MappedRows(model_inputs.computed(decoded, "unit"))
    expected = rows.row(2).clone()
    state = rows.__getstate__()
    assert state["_chunks"] is None
    assert torch.equal(pickle.loads(pickle.dumps(rows)).row(2), expected)


def test_a_row_out_of_range_and_an_unknown_preprocess_fail_naming_them(decoded):
    rows = model_inputs.MappedRows(model_inputs.computed(decoded, "unit"))
    with pytest.raises(IndexError, match=rf"row {len(rows)} out of range for {len(rows)} rows"):
        rows.rows([0, len(rows)])
    with pytest.raises(IndexError, match="row -1 out of range"):
        rows.row(-1)
    with pytest.raises(ValueError, match="preprocess must be one of .*got 'scaled'"):
        model_inputs.computed(decoded, "scaled")


def test_an_in_memory_dataset_is_held_as_one_tensor():
    pixels = np.arange(2 * 3 * 4 * 4, dtype=np.uint8).reshape(2, 3, 4, 4)
    features = datasets.Features({"image": datasets.Array3D(shape=(3, 4, 4), dtype="uint8")})
    decoded = datasets.Dataset.from_dict({"image": pixels}, features=features)
    rows = model_inputs.MappedRows(model_inputs.computed(decoded, "normalized"))
    assert torch.equal(torch.stack(rows.rows([1, 0])), paper_inputs.normalized(torch.from_numpy(pixels[[1, 0]])))


def test_pairs_read_the_cached_inputs_and_give_what_computing_per_batch_gives(view):
    cached = Pairs(view, transform=paper_inputs.normalized)
    per_batch = Pairs(view, transform=paper_inputs.normalized, cache_inputs=False)
    assert cached.inputs is not None and per_batch.inputs is None
    assert Pairs(view, transform=lambda image: image.flip(-1)).inputs is None  # not one of the paper's inputs
    indices = [3, 0, 2, 1]
    for (image, target), (want, want_target), i in zip(cached.__getitems__(indices), per_batch.__getitems__(indices),
                                                       indices):
        assert torch.equal(image, want) and target == want_target
        assert torch.equal(cached[i][0], want) and cached[i][1] == want_target


def test_a_dataloader_with_workers_gives_the_cached_inputs(view):
    cached = Pairs(view, transform=paper_inputs.unnormalized, extras=("source",))
    loader = torch.utils.data.DataLoader(cached, batch_size=3, num_workers=2)
    images, targets, sources = (torch.cat(column) for column in zip(*loader))
    expected = Pairs(view, transform=paper_inputs.unnormalized, extras=("source",), cache_inputs=False)
    assert torch.equal(images, torch.stack([expected[i][0] for i in range(len(expected))]))
    assert targets.tolist() == expected.targets and sources.tolist() == view["source"]
