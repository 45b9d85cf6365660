"""Every image is decoded in full; oddities convert like the release, defects give their reason."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

from conversion.pixels import decode, release_pipeline
from conversion.samples import genimage_tree


def rgb_image(width=120, height=80, seed=0) -> Image.Image:
    return Image.fromarray(genimage_tree.texture(np.random.default_rng(seed), width, height))


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def pixels_of(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.mode == "RGB" and image.size == (64, 64)
        assert not {"icc_profile", "exif"} & set(image.info)
        return np.asarray(image)


def release(data: bytes, source: str) -> np.ndarray:
    """The release's pipeline applied directly, for comparison."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(release_pipeline.release_pixels(image, source, 64))


@pytest.mark.parametrize("source", ["nature", "ai"])
@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "I;16", "RGB"])
def test_modes_convert_like_the_release(mode, source):
    image = rgb_image()
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L"), dtype=np.uint16) * 257)
    elif mode == "P":
        image = image.quantize(32)
    else:
        image = image.convert(mode)
    data = encoded(image, "PNG")
    assert Image.open(io.BytesIO(data)).mode == mode
    converted = decode.convert(data, source, 64)
    assert converted.difference is None
    assert np.array_equal(pixels_of(converted.data), release(data, source))


def test_cmyk_jpeg_natural_is_converted_like_the_release():
    data = encoded(rgb_image().convert("CMYK"), "JPEG")
    converted = decode.convert(data, "nature", 64)
    assert converted.difference is None
    assert np.array_equal(pixels_of(converted.data), release(data, "nature"))


def test_cmyk_ai_image_is_kept_and_marked_where_the_release_dropped_it():
    data = encoded(rgb_image().convert("CMYK"), "JPEG")
    with pytest.raises(OSError):
        release(data, "ai")  # the release could not save the resized CMYK image as PNG
    converted = decode.convert(data, "ai", 64)
    assert converted.difference.startswith(decode.RELEASE_DROPPED)
    with Image.open(io.BytesIO(data)) as image:
        expected = np.asarray(image.resize((64, 64)).convert("RGB"))
    assert np.array_equal(pixels_of(converted.data), expected)
    original = decode.convert(data, "ai", None)
    assert original.data == data and original.difference == converted.difference
    assert decode.convert(data, "nature", None).difference is None


@pytest.mark.parametrize("source", ["nature", "ai"])
def test_content_decides_not_the_extension(source):
    image = rgb_image()
    for data in (encoded(image, "PNG"), encoded(image, "JPEG", quality=90)):
        assert np.array_equal(pixels_of(decode.convert(data, source, 64).data), release(data, source))


def test_exif_orientation_is_left_as_the_release_left_it():
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encoded(rgb_image(120, 80), "JPEG", exif=exif, quality=90)
    got = pixels_of(decode.convert(data, "nature", 64).data)
    assert np.array_equal(got, release(data, "nature"))
    from PIL import ImageOps

    with Image.open(io.BytesIO(data)) as image:
        rotated = np.asarray(release_pipeline.nature_pixels(ImageOps.exif_transpose(image), 64))
    assert not np.array_equal(got, rotated)


def test_icc_profile_is_ignored_and_not_copied():
    profile = genimage_tree._srgb_profile()
    image = rgb_image()
    tagged, plain = encoded(image, "JPEG", icc_profile=profile, quality=90), encoded(image, "JPEG", quality=90)
    for source in ("nature", "ai"):
        assert decode.convert(tagged, source, 64).data == decode.convert(plain, source, 64).data


def test_original_size_keeps_the_bytes_after_checking_them():
    data = encoded(rgb_image(), "JPEG")
    assert decode.convert(data, "nature", None).data == data
    with pytest.raises(decode.Unreadable, match="^truncated"):
        decode.convert(data[: len(data) // 2], "nature", None)


def test_output_is_deterministic():
    data = encoded(rgb_image().quantize(16), "PNG")
    assert decode.convert(data, "ai", 64) == decode.convert(data, "ai", 64)


def png_bytes() -> bytes:
    return encoded(rgb_image(), "PNG")


@pytest.mark.parametrize(
    "data, kind",
    [
        (b"", "empty file (0 bytes)"),
        (png_bytes()[: len(png_bytes()) // 2], "truncated"),
        (encoded(rgb_image(), "JPEG")[:-400], "truncated"),
        (png_bytes()[:12] + b"IHDX" + png_bytes()[16:], "bad header"),
        (b"\xff\xd8\xff" + b"\x00" * 40, "bad header"),
        (b"hello, this is text\n", "not an image"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not an image"),
        (genimage_tree.bomb_png(), "decompression bomb"),
    ],
)
def test_unreadable_files_give_their_reason(data, kind):
    for source in ("nature", "ai"):
        with pytest.raises(decode.Unreadable) as err:
            decode.convert(data, source, 64)
        assert str(err.value).split(":")[0] == kind


@pytest.mark.parametrize("pillow_limit", [None, 1000])
def test_bomb_limit_is_ours_not_pillows_global(monkeypatch, pillow_limit):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", pillow_limit)  # a caller that changed Pillow's check
    with pytest.raises(decode.Unreadable, match="^decompression bomb: 30000x30000 = 900000000 pixels declared"):
        decode.convert(genimage_tree.bomb_png(), "ai", 64)
    just_over = genimage_tree.bomb_png(decode.MAX_IMAGE_PIXELS // 1000 + 1, 1000)
    with pytest.raises(decode.Unreadable, match="^decompression bomb"):
        decode.convert(just_over, "ai", 64)
    assert decode.convert(png_bytes(), "ai", 64).difference is None  # 9600 pixels: fine, whatever Pillow's limit
    assert Image.MAX_IMAGE_PIXELS == pillow_limit


def test_truncation_is_caught_even_if_the_caller_allows_truncated_images(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data = png_bytes()
    with pytest.raises(decode.Unreadable, match="^truncated"):
        decode.convert(data[: len(data) // 2], "ai", 64)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_large_files_are_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(decode, "MAX_FILE_BYTES", 10)
    path = tmp_path / "big.png"
    path.write_bytes(b"x" * 11)
    with pytest.raises(decode.Unreadable, match="^file too large"):
        decode.read_limited(str(path))
    with pytest.raises(decode.Unreadable, match="^cannot read file"):
        decode.read_limited(str(tmp_path / "missing.png"))


def test_an_image_pillow_cannot_convert_is_skipped(monkeypatch):
    def fail(image, size):
        raise ValueError(f"conversion from {image.mode} not supported")

    monkeypatch.setattr(release_pipeline, "nature_pixels", fail)
    with pytest.raises(decode.Unreadable, match="^cannot convert: conversion from RGB not supported"):
        decode.convert(png_bytes(), "nature", 64)


def one_pixel_high(width: int) -> bytes:
    """A tiny PNG ``width`` x 1 (a few hundred bytes for any width): the aspect-ratio bomb."""
    return encoded(Image.new("RGB", (width, 1), (200, 100, 50)), "PNG", optimize=True)


def test_aspect_ratio_bombs_are_skipped_before_the_resize():
    for width in (300_000, 2_000_000):
        data = one_pixel_high(width)
        assert len(data) < 10_000
        resized = width * 64 * 64
        with pytest.raises(decode.Unreadable,
                           match=rf"^aspect-ratio bomb: {width}x1 resized to {width * 64}x64 = {resized}"):
            decode.convert(data, "nature", 64)
        assert pixels_of(decode.convert(data, "ai", 64).data).shape == (64, 64, 3)  # squashed: bounded work
        assert np.array_equal(pixels_of(decode.convert(data, "ai", 64).data), release(data, "ai"))
        assert decode.convert(data, "nature", None).data == data  # original bytes: no resize at all
    long_side = one_pixel_high(decode.MAX_SIDE + 1)  # squashed to 64x64, its resize weights alone take 134 MB
    for source in ("ai", "nature"):
        with pytest.raises(decode.Unreadable, match=rf"^aspect-ratio bomb: {decode.MAX_SIDE + 1}x1, a side over"):
            decode.convert(long_side, source, 64)


def test_wide_images_within_the_limit_keep_the_release_pixels():
    width = decode.MAX_RESIZED_PIXELS // (64 * 64)  # the widest 1-pixel-high image allowed: 8192
    for w, h in ((width, 1), (4000, 3), (3, 4000)):
        data = encoded(rgb_image(w, h), "PNG")
        assert np.array_equal(pixels_of(decode.convert(data, "nature", 64).data), release(data, "nature"))
    with pytest.raises(decode.Unreadable, match="^aspect-ratio bomb"):
        decode.convert(encoded(rgb_image(width + 1, 1), "PNG"), "nature", 64)


def test_aspect_ratio_bombs_keep_memory_flat():
    """Peak memory of converting both bombs, in a fresh process: far below the 5.7 GB of the full resize.

    VmHWM is this process's own peak; ru_maxrss would also count the forked pytest process it replaced."""
    import subprocess
    import sys

    script = (
        "import io\n"
        "from PIL import Image\n"
        "from conversion.pixels import decode\n"
        "for width in (300_000, 2_000_000, 20_000_000):\n"
        "    buffer = io.BytesIO(); Image.new('RGB', (width, 1)).save(buffer, format='PNG')\n"
        "    for source in ('nature', 'ai'):\n"
        "        try:\n"
        "            decode.convert(buffer.getvalue(), source, 64)\n"
        "        except decode.Unreadable:\n"
        "            pass\n"
        "print(next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:')))\n"
    )
    peak_kb = int(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout)
    assert peak_kb < 600 * 1024
