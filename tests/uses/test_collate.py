"""Full-resolution rows (images of different sizes) batch in a torch DataLoader with images_as_list."""

from __future__ import annotations

import pytest
import torch

from conversion.uses.collate import images_as_list


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
