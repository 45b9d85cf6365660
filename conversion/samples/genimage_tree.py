"""A small, deterministic GenImage-like tree that follows the real naming exactly.

File names are made from each generator's example name in ``dictionaries/generators.json`` (same
tokens, same zero padding, same extension case); natural names use ImageNet's train
``<wnid>_<n>.JPEG`` and val ``ILSVRC2012_val_<8 digits>.JPEG`` notations, with val numbers whose
ILSVRC2015 ground truth is the intended class. Images are smooth noise textures: natural JPEGs
of ImageNet-like sizes and aspect ratios (one smaller than 64 px, one grayscale), AI PNGs at the
generator's size divided by ``ai_scale`` (one RGBA and one palette image per folder).
"""

from __future__ import annotations

import functools
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from conversion.contract import tables
from conversion.sources.generator_folders import SPLIT_FOLDERS

LAYOUTS = ("nested", "inner", "raw")
"""``<Top>/<inner>/``, ``<inner>/``, and the original CL scripts' ``<Top>/raw/``."""

NATURAL_SIZES = ((500, 375), (375, 500), (500, 333), (640, 480), (500, 500), (333, 500), (48, 40))


def generator_folder(root: Path, generator: tables.Generator, layout: str) -> Path:
    if layout == "nested":
        return root / generator.top_folder / generator.inner_folder
    if layout == "inner":
        return root / generator.inner_folder
    if layout == "raw":
        return root / generator.top_folder / "raw"
    raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def ai_file_name(generator: tables.Generator, label: int, number: int) -> str:
    """The generator's example name with its class and image-number tokens replaced."""
    stem, ext = generator.ai_example.rsplit(".", 1)
    tokens = stem.split("_")
    i = len(tokens) - 2
    class_width = len(tokens[i - 1]) if tokens[i - 1].startswith("0") else 1
    number_width = len(tokens[i + 1]) if tokens[i + 1].startswith("0") else 1
    tokens[i - 1] = f"{label:0{class_width}d}"
    tokens[i + 1] = f"{number:0{number_width}d}"
    return "_".join(tokens) + "." + ext


@functools.cache
def val_numbers_of_label() -> dict[int, list[int]]:
    numbers: dict[int, list[int]] = {}
    for n, label in enumerate(tables.val_labels(), start=1):
        numbers.setdefault(label, []).append(n)
    return numbers


def nature_file_name(label: int, split: str, number: int) -> str:
    if split == "train":
        return f"{tables.wnids()[label]}_{number + 1}.JPEG"
    return f"ILSVRC2012_val_{val_numbers_of_label()[label][number]:08d}.JPEG"


def texture(rng: np.random.Generator, width: int, height: int, channels: int = 3) -> np.ndarray:
    """Smooth colour noise with some fine grain: resizing it changes pixels in a visible way."""
    coarse = rng.integers(0, 256, size=(max(height // 16, 2), max(width // 16, 2), channels), dtype=np.uint8)
    image = Image.fromarray(coarse.squeeze(-1) if channels == 1 else coarse).resize((width, height), Image.BICUBIC)
    grain = rng.integers(-12, 13, size=np.asarray(image).shape)
    return np.clip(np.asarray(image, dtype=np.int16) + grain, 0, 255).astype(np.uint8)


def chosen_classes(classes_per_task: int) -> list[int]:
    """``classes_per_task`` classes of each task, plus one joint and one unused class (excluded)."""
    chosen = [label for task in tables.task_classes() for label in task[:classes_per_task]]
    used = set(tables.task_of_label()) | set(tables.joint_classes())
    unused = next(label for label in range(1000) if label not in used)
    return chosen + [tables.joint_classes()[0], unused]


def _write_ai(path: Path, rng: np.random.Generator, size: int, mode: str) -> None:
    pixels = texture(rng, size, size, 4 if mode == "RGBA" else 3)
    image = Image.fromarray(pixels, "RGBA" if mode == "RGBA" else "RGB")
    if mode == "P":
        image = image.quantize(64)
    image.save(path, format="PNG")


def _write_nature(path: Path, rng: np.random.Generator, size: tuple[int, int], gray: bool) -> None:
    pixels = texture(rng, *size, 1 if gray else 3)
    Image.fromarray(pixels).save(path, format="JPEG", quality=90)


def make_sample_tree(
    root: str | os.PathLike,
    generators: list[str] | None = None,
    layout: str = "nested",
    classes_per_task: int = 2,
    images_per_class: int = 1,
    ai_scale: int = 4,
    seed: int = 0,
) -> Path:
    """Write the tree under ``root`` and return ``root``. The same arguments give the same bytes."""
    root = Path(root)
    table = tables.generators()
    keys = list(table) if generators is None else generators
    labels = chosen_classes(classes_per_task)
    for g_index, key in enumerate(keys):
        generator = table[key]
        base = generator_folder(root, generator, layout)
        for s_index, (split, folder) in enumerate(SPLIT_FOLDERS.items()):
            rng = np.random.default_rng([seed, g_index, s_index])
            ai_dir, nature_dir = base / folder / "ai", base / folder / "nature"
            ai_dir.mkdir(parents=True, exist_ok=True)
            nature_dir.mkdir(parents=True, exist_ok=True)
            ai_size = max(generator.ai_size // ai_scale, 16)
            count = 0
            for label in labels:
                for n in range(images_per_class):
                    mode = ("RGBA", "P", "RGB")[min(count, 2)]
                    _write_ai(ai_dir / ai_file_name(generator, label, n), rng, ai_size, mode)
                    size = NATURAL_SIZES[count % len(NATURAL_SIZES)]
                    _write_nature(nature_dir / nature_file_name(label, split, n), rng, size, gray=count == 1)
                    count += 1
    return root


KEPT = "kept"
"""Expected outcome of an injected file that is read and converted like any other."""


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90, **params)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid-looking PNG of a few dozen bytes that declares ``width`` x ``height`` RGB pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def inject_defects(root: str | os.PathLike, layout: str = "nested", seed: int = 1) -> dict[str, str]:
    """Add real-world defects and oddities to a sample tree made by :func:`make_sample_tree`.

    Spread over ADM, BigGAN, GLIDE, SD v1.4 and SD v1.5 (which must be in the tree): truncated
    JPEG and PNG, an empty file, a PNG with a broken header, text named ``.png``, ``.DS_Store``,
    ``Thumbs.db``, a macOS resource fork, stray text, names that parse to no class, CMYK JPEGs
    (natural and AI), a 16-bit PNG, a PNG named ``.JPEG``, a JPEG named ``.png``, an EXIF-rotated
    and an ICC-tagged JPEG, a decompression bomb, a 300000x1 natural PNG (aspect-ratio bomb) and a
    name whose class token is ``²`` (the tree already has grayscale, RGBA and
    palette images). Files are named for a task
    class, so none is excluded. Returns {path relative to ``root``: expected outcome}: :data:`KEPT`,
    :data:`conversion.pixels.decode.RELEASE_DROPPED`, or the kind of skip reason (text before ``:``).
    """
    from conversion.pixels import decode

    root = Path(root)
    table = tables.generators()
    rng = np.random.default_rng(seed)
    label = tables.task_classes()[0][0]
    rgb = Image.fromarray(texture(rng, 120, 80))
    png, jpeg = _png(rgb), _jpeg(rgb)
    cmyk = _jpeg(rgb.convert("CMYK"))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    sixteen = _png(Image.fromarray(texture(rng, 64, 48, 1).astype(np.uint16) * 257))
    counter = iter(range(900, 10**6))

    def ai(key: str) -> str:
        return ai_file_name(table[key], label, next(counter))

    def nature_train() -> str:
        return nature_file_name(label, "train", next(counter))

    defects = [
        ("sdv15", "train", "nature", nature_train(), jpeg[: len(jpeg) // 2], "truncated"),
        ("adm", "train", "ai", ai("adm"), png[: len(png) // 2], "truncated"),
        ("biggan", "train", "ai", ai("biggan"), b"", "empty file (0 bytes)"),
        ("glide", "train", "ai", ai("glide"), png[:12] + b"IHDX" + png[16:], "bad header"),
        ("sdv14", "train", "ai", ai("sdv14"), b"this is not an image\n", "not an image"),
        ("sdv14", "train", "ai", ".DS_Store", b"\x00\x00\x00\x01Bud1", "system file"),
        ("sdv14", "test", "nature", "Thumbs.db", b"\xd0\xcf\x11\xe0", "system file"),
        ("adm", "test", "ai", "._" + ai("adm"), b"\x00\x05\x16\x07", "system file"),
        ("glide", "test", "nature", "download_log.txt", b"wget ...\n", "not an image file"),
        ("adm", "train", "ai", "x_adm_1.PNG", png, "file name"),
        ("biggan", "train", "ai", "1234_biggan_00001.png", png, "file name"),
        ("sdv14", "train", "nature", "n99999999_1.JPEG", jpeg, "file name"),
        ("biggan", "test", "nature", "ILSVRC2012_val_00000000.JPEG", jpeg, "file name"),
        ("glide", "test", "nature", "ILSVRC2012_val_00050001.JPEG", jpeg, "file name"),
        ("sdv15", "train", "nature", nature_train(), cmyk, KEPT),
        ("sdv15", "test", "ai", ai("sdv15"), cmyk, decode.RELEASE_DROPPED),
        ("adm", "test", "ai", ai("adm"), sixteen, KEPT),
        ("sdv14", "train", "nature", nature_train(), png, KEPT),
        ("glide", "train", "ai", ai("glide"), jpeg, KEPT),
        ("biggan", "train", "nature", nature_train(), _jpeg(rgb, exif=exif), KEPT),
        ("glide", "train", "nature", nature_train(), _jpeg(rgb, icc_profile=_srgb_profile()), KEPT),
        ("sdv14", "test", "ai", ai("sdv14"), bomb_png(), "decompression bomb"),
        ("sdv14", "train", "ai", "\u00b2_sdv4_00900.png", png, "file name"),
        ("sdv14", "train", "nature", nature_train(), _png(Image.new("RGB", (300_000, 1))), "aspect-ratio bomb"),
    ]
    expected = {}
    for key, split, source, name, data, outcome in defects:
        folder = generator_folder(root, table[key], layout) / SPLIT_FOLDERS[split] / source
        path = folder / name
        path.write_bytes(data)
        expected[path.relative_to(root).as_posix()] = outcome
    return expected
