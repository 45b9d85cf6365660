"""check="structure": complete, intact files pass without a pixel decode; truncated or damaged ones
are skipped with a reason of the same kind as a full decode gives."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import datasets
import numpy as np
import pytest
from PIL import Image

from conversion.builder import build_report
from conversion.contract import tables
from conversion.pixels import decode, file_structure
from conversion.samples import genimage_tree
from genimage_cl import GenImageCL


def encoded(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def valid_files() -> dict[str, bytes]:
    rgb = Image.fromarray(genimage_tree.texture(np.random.default_rng(3), 90, 70))
    return {
        "png": encoded(rgb, "PNG"),
        "png P with tEXt after": encoded(rgb.quantize(8), "PNG"),
        "png I;16": encoded(Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257), "PNG"),
        "jpeg": encoded(rgb, "JPEG", quality=90),
        "jpeg progressive": encoded(rgb, "JPEG", progressive=True),
        "jpeg restart markers": encoded(rgb, "JPEG", restart_marker_blocks=1),
        "jpeg CMYK with EXIF and ICC": encoded(rgb.convert("CMYK"), "JPEG", exif=Image.Exif().tobytes(),
                                               icc_profile=genimage_tree._srgb_profile()),
    }


def outcome(data: bytes, check: str):
    try:
        return decode.convert(data, "nature", None, check)
    except decode.Unreadable as err:
        return str(err).split(":")[0]


@pytest.mark.parametrize("name", list(valid_files()))
def test_valid_files_pass_and_keep_their_bytes(name):
    data = valid_files()[name]
    assert outcome(data, "structure") == decode.Converted(data) == outcome(data, "decode")


@pytest.mark.parametrize("name", list(valid_files()))
def test_every_truncation_is_caught(name):
    data = valid_files()[name]
    ends = {*range(1, len(data), max(len(data) // 97, 1)), len(data) - 1, len(data) - 2}
    for end in sorted(ends):
        assert outcome(data[:end], "structure") in ("truncated", "bad header", "corrupt", "not an image"), end


@pytest.mark.parametrize("crc32", [file_structure.crc32(), zlib.crc32])
def test_damaged_png_data_fails_its_crc(crc32, monkeypatch):
    monkeypatch.setattr(file_structure, "crc32", lambda: crc32)  # libdeflate's (with imagecodecs) or zlib's
    file_structure.check_png(valid_files()["png"])
    data = bytearray(valid_files()["png"])
    data[len(data) // 2] ^= 0x10
    with pytest.raises(file_structure.Broken, match="^corrupt: CRC mismatch in the 'IDAT' chunk"):
        file_structure.check_png(bytes(data))


def test_png_and_jpeg_layouts():
    files = valid_files()
    assert file_structure.png_chunks(files["png"]) == [b"IHDR", b"IDAT", b"IEND"]
    assert file_structure.jpeg_layout(files["jpeg"]) == (0xC0, 1)
    progressive = file_structure.jpeg_layout(files["jpeg progressive"])
    assert progressive.frame_marker == 0xC2 and progressive.scans > 1
    split_idat = files["png"][:-12] + genimage_tree._png_chunk(b"tEXt", b"a\x00b") + files["png"][33:]
    with pytest.raises(file_structure.Broken, match="not contiguous"):
        file_structure.check_png(split_idat)


def test_sample_tree_defects_give_the_same_kind_of_reason(tmp_path):
    root = genimage_tree.make_sample_tree(tmp_path / "GenImage",
                                          generators=["adm", "biggan", "glide", "sdv14", "sdv15"])
    expected = genimage_tree.inject_defects(root)
    for relative in expected:
        data = (root / relative).read_bytes()
        decoded = outcome(data, "decode")
        assert outcome(data, "structure") == decoded, relative
        no_image = decoded in ("empty file (0 bytes)", "not an image")  # refused unchecked too: no image signature
        assert outcome(data, "none") == (decoded if no_image else decode.Converted(data)), relative


@pytest.mark.parametrize("check", ["structure", "none"])
def test_full_resolution_build_records_its_check(sample_root, tmp_path, check):
    builder = GenImageCL(config_name="adm-task0", data_dir=str(sample_root), cache_dir=str(tmp_path),
                         image_size="original", check=check)
    builder.download_and_prepare()
    report = build_report.load(Path(builder.cache_dir) / build_report.REPORT_FILE)
    assert report["check"] == check and report["image_size"] == "original" and not report["skipped"]
    assert f"images: the original files at full resolution (check {check})" in build_report.format_report(report)
    rows = builder.as_dataset("train").cast_column("image", datasets.Image(decode=False))
    adm = sample_root / tables.generators()["adm"].top_folder
    folder = {p.name: p for p in adm.rglob("*") if p.is_file() and "train" in p.parts}
    assert len(rows) == 4
    assert all(row["image"]["bytes"] == folder[row["file_name"]].read_bytes() for row in rows)


def test_check_is_validated(sample_root):
    with pytest.raises(ValueError, match="check must be one of"):
        GenImageCL(config_name="adm-task0", data_dir=str(sample_root), image_size="original", check="quick")
    with pytest.raises(ValueError, match="needs image_size='original'"):
        GenImageCL(config_name="adm-task0", data_dir=str(sample_root), check="structure")
