"""Full-resolution rows (images of different sizes and channel counts) batch in a torch DataLoader with
images_as_list, after rgb for 3 channels everywhere."""

from __future__ import annotations

import io

import datasets
import numpy as np
import pytest
import torch
from PIL import Image

from conversion.uses.collate import images_as_list, rgb


def test_original_size_rows_batch_with_images_as_list(sample_root, build):
    train = build("sdv14-task0", sample_root, image_size="original")["train"]
    rows = train.with_format("torch", columns=["image", "label", "source"])
    assert len({tuple(row["image"].shape) for row in rows}) > 1  # sizes differ: the default collate cannot stack
    with pytest.raises(RuntimeError):
        next(iter(torch.utils.data.DataLoader(rows, batch_size=len(rows))))
    (batch,) = torch.utils.data.DataLoader(rows, batch_size=len(rows), collate_fn=images_as_list)
    assert batch["label"].tolist() == train["label"] and batch["source"].tolist() == train["source"]
    assert [tuple(image.shape) for image in batch["image"]] == [tuple(row["image"].shape) for row in rows]
    assert all(image.dtype == torch.uint8 for image in batch["image"])


def _png(image: Image.Image) -> dict:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"bytes": buffer.getvalue(), "path": None}


def test_rgb_gives_three_channels_as_pillows_convert():
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(5, 7, 4), dtype=np.uint8)
    palette = Image.fromarray(pixels[..., :3]).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    images = [Image.fromarray(pixels[..., 0]), Image.fromarray(pixels[..., :2], "LA"),
              Image.fromarray(pixels[..., :3]), Image.fromarray(pixels), palette]
    ds = datasets.Dataset.from_dict({"image": [_png(i) for i in images], "label": list(range(len(images)))},
                                    features=datasets.Features({"image": datasets.Image(),
                                                                "label": datasets.Value("int64")}))
    native = [row["image"].shape[0] for row in ds.with_format("torch")]
    assert native == [1, 2, 3, 4, 1]  # as stored: grey, grey+alpha, RGB, RGBA, palette indices
    (batch,) = torch.utils.data.DataLoader(rgb(ds).with_format("torch"), batch_size=len(images),
                                           collate_fn=images_as_list)
    expected = [torch.from_numpy(np.array(i.convert("RGB"))).permute(2, 0, 1) for i in images]
    assert all(torch.equal(got, want) for got, want in zip(batch["image"], expected, strict=True))
    assert batch["label"].tolist() == list(range(len(images)))
    assert rgb(datasets.DatasetDict(train=ds))["train"].features["image"].mode == "RGB"
