"""The uint8 fast path: decoded once (cached by datasets), read in whole batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conversion.decoded import ArrowBatches, batch_loader, decoded_uint8


@pytest.fixture(scope="module")
def train(build, sample_root):
    return build("sdv14", sample_root)["train"]


def rgb_chw(image) -> np.ndarray:
    return np.asarray(image.convert("RGB")).transpose(2, 0, 1)


def test_decoded_pixels_equal_the_png_pixels_and_are_cached(train):
    fast = decoded_uint8(train)
    assert len(fast.cache_files) == 1 and fast.cache_files[0]["filename"] != train.cache_files[0]["filename"]
    assert decoded_uint8(train).cache_files == fast.cache_files
    batch = ArrowBatches(fast)[[0, len(train) - 1, 3]]
    assert batch["image"].dtype == torch.uint8 and batch["image"].shape == (3, 3, 64, 64)
    for position, row in enumerate([0, len(train) - 1, 3]):
        assert np.array_equal(batch["image"][position].numpy(), rgb_chw(train[row]["image"]))
        assert batch["label"][position].item() == train[row]["label"]
        assert batch["task_label"][position].item() == train[row]["task_label"]


def test_batch_loader_reads_every_row_once_with_workers(train):
    fast = decoded_uint8(train)
    seen = []
    for batch in batch_loader(fast, batch_size=5, shuffle=True, num_workers=2, seed=3):
        assert batch["image"].dtype == torch.uint8 and len(batch["image"]) <= 5
        seen += [bytes(x.numpy()) for x in batch["image"]]
    expected = [bytes(rgb_chw(row["image"])) for row in train]
    assert sorted(seen) == sorted(expected)


def test_batch_loader_follows_selections(train):
    fast = decoded_uint8(train).shuffle(seed=1).select(range(7))
    batch = next(iter(batch_loader(fast, batch_size=7, shuffle=False)))
    assert batch["label"].tolist() == list(fast["label"])


def test_images_of_different_sizes_are_refused(build, sample_root):
    original = build("sdv14", sample_root, image_size="original")["train"]
    with pytest.raises(ValueError, match="64-px config"):
        decoded_uint8(original)


def test_batch_loader_decodes_a_png_column_per_batch(train):
    batch = next(iter(batch_loader(train, batch_size=4, shuffle=False)))
    assert set(batch) == {"image", "label", "task_label", "source", "generator", "task"}
    assert batch["image"].dtype == torch.uint8 and batch["image"].shape == (4, 3, 64, 64)
    for i in range(4):
        assert np.array_equal(batch["image"][i].numpy(), rgb_chw(train[i]["image"]))
