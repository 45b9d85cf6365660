"""imagecodecs gives Pillow's pixels bit for bit wherever it is used, and leaves every other file
(and every skip reason) to Pillow: on every mode and defect the sample trees make, on a fuzzed set,
and on odd images that installed packages ship (Pillow's own test images where present)."""

from __future__ import annotations

import io
import os
import site
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conversion.pixels import decode, fast_decode
from conversion.samples import genimage_tree

ODD_IMAGES_VARIABLE = "GENIMAGE_ODD_IMAGES"
"""A folder of odd PNG/JPEG files to test as well, e.g. ``Tests/images`` of Pillow's source distribution."""


def fast_agrees(data: bytes) -> bool:
    """Assert that where imagecodecs decodes ``data``, Pillow decodes it too, to the same pixels;
    True if imagecodecs was used."""
    with decode.strict_pillow():
        try:
            header = decode.open_header(data)
        except decode.Unreadable:
            return False
        with header:
            fast = fast_decode.decoded(data, header)
            if fast is None:
                return False
            try:
                header.load()
            except (OSError, SyntaxError, ValueError, EOFError) as err:
                pytest.fail(f"imagecodecs decoded a file Pillow refuses ({err})")
            assert (fast.mode, fast.size) == (header.mode, header.size)
            assert np.array_equal(np.asarray(fast), np.asarray(header))
            return True


def outcome(data: bytes, source: str):
    try:
        return decode.convert(data, source, 64)
    except decode.Unreadable as err:
        return f"skipped: {err}"


def outcomes_with_pillow_alone(monkeypatch, files: list[bytes], source: str) -> list:
    with monkeypatch.context() as patch:
        patch.setattr(fast_decode, "decoded", lambda data, image: None)
        return [outcome(data, source) for data in files]


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def texture(width=96, height=72, seed=0) -> Image.Image:
    return Image.fromarray(genimage_tree.texture(np.random.default_rng(seed), width, height))


def test_sample_tree_files_and_defects_convert_exactly_as_with_pillow(tmp_path, monkeypatch):
    root = genimage_tree.make_sample_tree(tmp_path / "GenImage",
                                          generators=["adm", "biggan", "glide", "sdv14", "sdv15"])
    genimage_tree.inject_defects(root)
    files = [p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()]
    used = sum(fast_agrees(data) for data in files)
    assert used >= len(files) // 2  # the plain RGB/RGBA PNGs and baseline JPEGs
    for source in ("ai", "nature"):
        assert [outcome(data, source) for data in files] == outcomes_with_pillow_alone(monkeypatch, files, source)


def odd_files() -> dict[str, bytes]:
    """Files Pillow must decode itself, and plain ones imagecodecs may take."""
    rgb, exif = texture(), Image.Exif()
    exif[0x0112] = 6
    gray16 = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    files = {
        "png RGB": encoded(rgb, "PNG"),
        "png L": encoded(rgb.convert("L"), "PNG"),
        "png LA": encoded(rgb.convert("LA"), "PNG"),
        "png RGBA": encoded(rgb.convert("RGBA"), "PNG"),
        "png 1-bit": encoded(rgb.convert("1"), "PNG"),
        "png P": encoded(rgb.quantize(64), "PNG"),
        "png P 4-bit": encoded(rgb.quantize(16), "PNG", bits=4),
        "png I;16": encoded(gray16, "PNG"),
        "png RGB tRNS": encoded(rgb, "PNG", transparency=(0, 0, 0)),
        "png L tRNS": encoded(rgb.convert("L"), "PNG", transparency=0),
        "png interlaced": None,
        "png ICC": encoded(rgb, "PNG", icc_profile=genimage_tree._srgb_profile()),
        "png APNG": encoded(rgb, "PNG", save_all=True, append_images=[texture(seed=1)]),
        "jpeg 4:2:0": encoded(rgb, "JPEG", quality=90),
        "jpeg 4:4:4": encoded(rgb, "JPEG", quality=95, subsampling=0),
        "jpeg 4:2:2": encoded(rgb, "JPEG", quality=75, subsampling=1),
        "jpeg L": encoded(rgb.convert("L"), "JPEG"),
        "jpeg CMYK": encoded(rgb.convert("CMYK"), "JPEG"),
        "jpeg progressive": encoded(rgb, "JPEG", progressive=True),
        "jpeg optimized": encoded(rgb, "JPEG", optimize=True),
        "jpeg restart markers": encoded(rgb, "JPEG", restart_marker_blocks=2),
        "jpeg EXIF rotated": encoded(rgb, "JPEG", exif=exif),
        "jpeg ICC": encoded(rgb, "JPEG", icc_profile=genimage_tree._srgb_profile()),
        "jpeg odd size": encoded(texture(33, 17), "JPEG"),
        "jpeg MPO": encoded(rgb, "MPO", save_all=True, append_images=[texture(seed=2)]),
        "gif": encoded(rgb.quantize(32), "GIF"),
        "bmp": encoded(rgb, "BMP"),
    }
    files["png interlaced"] = _interlaced_png()
    return files


def _interlaced_png() -> bytes:
    """An Adam7-interlaced RGB PNG (Pillow cannot write one)."""
    import struct
    import zlib

    pixels = np.asarray(texture(24, 16))
    height, width, _ = pixels.shape
    passes = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
    raw = b"".join(b"\x00" + row.tobytes() for x0, y0, dx, dy in passes
                   for row in pixels[y0::dy, x0::dx] if pixels[y0::dy, x0::dx].shape[1])
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1)
    chunk = genimage_tree._png_chunk
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PROVEN = {"png RGB", "png L", "png LA", "png RGBA", "png ICC", "jpeg 4:2:0", "jpeg 4:4:4", "jpeg 4:2:2", "jpeg L",
          "jpeg optimized", "jpeg restart markers", "jpeg EXIF rotated", "jpeg ICC", "jpeg odd size"}


def test_imagecodecs_takes_exactly_the_proven_kinds(monkeypatch):
    files = odd_files()
    with Image.open(io.BytesIO(files["png interlaced"])) as image:
        assert image.info.get("interlace") == 1
        image.load()
    used = {name for name, data in files.items() if fast_agrees(data)}
    assert used == PROVEN
    names = list(files)
    for source in ("ai", "nature"):
        got = [outcome(files[n], source) for n in names]
        without = outcomes_with_pillow_alone(monkeypatch, list(files.values()), source)
        assert dict(zip(names, got)) == dict(zip(names, without))


def mutations(data: bytes, rng: np.random.Generator, count: int) -> list[bytes]:
    """Truncations, byte flips, deletions, insertions and a cut before the last two bytes."""
    out = [data[:-2], data[:-1], data + b"\x00garbage"]
    for _ in range(count):
        kind = rng.integers(4)
        at = int(rng.integers(2, len(data)))
        if kind == 0:
            out.append(data[:at])
        elif kind == 1:
            flipped = bytearray(data)
            for pos in rng.integers(2, len(data), size=rng.integers(1, 4)):
                flipped[pos] ^= 1 << int(rng.integers(8))
            out.append(bytes(flipped))
        elif kind == 2:
            out.append(data[:at] + data[at + int(rng.integers(1, 64)):])
        else:
            out.append(data[:at] + rng.bytes(int(rng.integers(1, 16))) + data[at:])
    return out


def test_fuzzed_files_never_decode_differently(monkeypatch):
    rng = np.random.default_rng(12)
    bases = [data for name, data in odd_files().items() if name in PROVEN]
    fuzzed = [m for data in bases for m in mutations(data, rng, 40)]
    used = sum(fast_agrees(data) for data in fuzzed)
    assert used > len(fuzzed) // 10
    sample = fuzzed[::3]
    assert [outcome(d, "nature") for d in sample] == outcomes_with_pillow_alone(monkeypatch, sample, "nature")


def shipped_images() -> list[Path]:
    """PNG and JPEG files shipped by installed packages, plus those in $GENIMAGE_ODD_IMAGES."""
    roots = [Path(p) for p in {*site.getsitepackages(), site.getusersitepackages(), *sys.path}
             if p and Path(p).is_dir()]
    found = {f for root in roots if "site-packages" in root.parts or "dist-packages" in root.parts
             for f in root.rglob("*") if f.suffix.lower() in {".png", ".jpg", ".jpeg"}}
    if os.environ.get(ODD_IMAGES_VARIABLE):
        folder = Path(os.environ[ODD_IMAGES_VARIABLE])
        found |= {f for f in folder.rglob("*") if f.suffix.lower() in {".png", ".jpg", ".jpeg"}}
    return sorted(f for f in found if f.is_file())


def test_images_shipped_by_installed_packages():
    files = shipped_images()
    if not files:
        pytest.skip(f"no PNG or JPEG files in installed packages or ${ODD_IMAGES_VARIABLE}")
    for path in files:
        data = path.read_bytes()
        try:
            fast_agrees(data)
        except AssertionError as err:
            raise AssertionError(f"{path}: {err}") from None
