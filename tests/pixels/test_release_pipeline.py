"""Built pixels equal a straightforward re-implementation of the release pipeline (docs/release.md#pixel-pipeline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conversion.contract import tables
from conversion.samples.genimage_tree import generator_folder

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def release_ai(path, tmp_path) -> np.ndarray:
    """Resize as opened (Pillow's default filter), save PNG, reopen, RGB."""
    resized = Image.open(path).resize((64, 64))
    resized.save(tmp_path / "step.png")
    return np.asarray(Image.open(tmp_path / "step.png").convert("RGB"))


def release_nature(path) -> np.ndarray:
    """RGB; torchvision Resize(64) (short side 64, long side truncated), bilinear; CenterCrop(64)."""
    image = Image.open(path).convert("RGB")
    w, h = image.size
    new_w, new_h = (64, int(64 * h / w)) if w <= h else (int(64 * w / h), 64)
    image = image.resize((new_w, new_h), Image.BILINEAR)
    top, left = int(round((new_h - 64) / 2.0)), int(round((new_w - 64) / 2.0))
    return np.asarray(image)[top : top + 64, left : left + 64]


def normalized(u8: np.ndarray) -> torch.Tensor:
    """ToTensor then Normalize, in float32 torch ops, as the release computed X."""
    return (torch.from_numpy(u8.copy()).permute(2, 0, 1).float().div(255) - MEAN) / STD


@pytest.mark.parametrize("config", ["adm", "midjourney-task0", "biggan-task3"])
def test_pixels_equal_the_release_pipeline(sample_root, build, tmp_path, config):
    key = config.split("-")[0]
    folder = generator_folder(sample_root, tables.generators()[key], "nested")
    ds = build(config, sample_root)
    modes = set()
    for split, split_folder in (("train", "train"), ("test", "val")):
        for row in ds[split]:
            source = tables.SOURCES[row["source"]]
            path = folder / split_folder / source / row["file_name"]
            modes.add((source, Image.open(path).mode, min(Image.open(path).size) < 64))
            expected = release_ai(path, tmp_path) if source == "ai" else release_nature(path)
            built = np.asarray(row["image"])
            assert built.dtype == np.uint8 and built.shape == (64, 64, 3)
            np.testing.assert_array_equal(built, expected, err_msg=str(path))
            assert torch.equal(normalized(built), normalized(expected))
    if config == "adm":  # the sample tree's odd images are all covered
        assert {("ai", "RGBA", False), ("ai", "P", False), ("nature", "L", False), ("nature", "RGB", True)} <= modes


def test_uint8_round_trip_of_normalization_is_exact():
    """docs/release.md#lossless-uint8-copy: round((X*std+mean)*255) recovers u8 and re-normalizing gives X bit
    for bit."""
    u8 = (torch.arange(3 * 64 * 64) % 256).to(torch.uint8).view(3, 64, 64)  # every value in every channel
    x = (u8.float() / 255 - MEAN) / STD
    back = torch.round((x * STD + MEAN) * 255).to(torch.uint8)
    assert torch.equal(back, u8)
    assert torch.equal((back.float() / 255 - MEAN) / STD, x)


def _row_filters(data: bytes, height: int, row_bytes: int) -> set[int]:
    """The filter type byte of each of a PNG's ``height`` rows (its IDAT data inflated)."""
    import struct
    import zlib

    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + row_bytes)
    return {raw[row * (1 + row_bytes)] for row in range(height)}


def test_stored_png_holds_the_pixels_alone():
    """The stored PNG (libpng, the Paeth filter on every row) decodes with Pillow to the very pixels, RGB,
    with no chunk but the image's."""
    import io

    from conversion.pixels import file_structure, release_pipeline

    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    tagged = Image.fromarray(pixels)
    tagged.info["icc_profile"] = b"not carried over"
    for given in (pixels, pixels[::-1].copy()[::-1], tagged):
        data = release_pipeline.png_bytes(given)
        with Image.open(io.BytesIO(data)) as image:
            assert image.mode == "RGB"
            assert np.array_equal(np.asarray(image), pixels)
        assert set(file_structure.png_chunks(data)) == {b"IHDR", b"IDAT", b"IEND"}
        assert _row_filters(data, 64, 64 * 3) == {4}  # 4: Paeth
    with pytest.raises(ValueError, match=r"RGB pixels \[H, W, 3\], not an array of shape \(64, 64\)"):
        release_pipeline.png_bytes(pixels[..., 0])
