"""The uint8 fast path: decoded once (cached by datasets), read in whole batches."""

from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch

from conversion.samples import genimage_tree
from conversion.uses.tensors import paper_tensors
from conversion.uses.uint8_batches import ArrowBatches, batch_loader, decoded_uint8


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


def _png(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("stored, reason", [
    (lambda: genimage_tree.bomb_png(20000, 20000),
     "decompression bomb: 20000x20000 = 400000000 pixels declared, limit 178956970"),
    (lambda: b"<html>not an image</html>", "not an image: no JPEG or PNG signature and no format Pillow reads here"),
    (lambda: _png(80, 64), "80x64 where the rows before it are 64x64: images must all have one size"),
])
def test_a_hostile_row_is_refused_from_its_header_naming_it(train, tmp_path, stored, reason):
    """decoded_uint8, batch_loader and paper_tensors check each image's header before decoding it, and name the
    row, its file_name and the cache file holding it."""
    data = stored()
    raw = train.cast_column("image", datasets.Image(decode=False))
    cache = tmp_path / "hostile.arrow"
    hostile = raw.map(lambda row, index: {"image": {"bytes": data if index == 3 else row["image"]["bytes"],
                                                    "path": None}},
                      with_indices=True, cache_file_name=str(cache)).cast_column("image", datasets.Image())
    where = f"row 3 ({train[3]['file_name']}) of the dataset in {cache}: "
    for load in (lambda: decoded_uint8(hostile),
                 lambda: next(iter(batch_loader(hostile, batch_size=len(train), shuffle=False))),
                 lambda: paper_tensors(hostile)):
        with pytest.raises(ValueError) as err:
            load()
        assert str(err.value).startswith(where + reason), str(err.value)
        assert "\n" not in str(err.value)


def test_the_limits_hold_whatever_pillow_is_set_to(monkeypatch):
    from PIL import Image

    from conversion.uses import uint8_batches

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # a caller that lifted Pillow's own check
    with pytest.raises(ValueError, match=r"^decompression bomb: 20000x20000 = 400000000 pixels declared"):
        uint8_batches.rgb_pixels(genimage_tree.bomb_png(20000, 20000))
    assert Image.MAX_IMAGE_PIXELS is None
    assert uint8_batches.rgb_pixels(_png(3, 2)).shape == (3, 2, 3)  # [3, H, W]
