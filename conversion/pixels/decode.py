"""Check and convert one image file: fully decoded, the same way every time, or refused with a reason.

Every image is decoded completely (``Image.load``, or imagecodecs where it gives the same pixels),
so truncated files are caught; files kept at full resolution may ask for a lighter check
(:data:`CHECKS`). What Pillow can read is converted by the release's pipeline
(:mod:`conversion.pixels.release_pipeline`) whatever its mode, format or file extension; EXIF orientation is left as
the release left it (not applied) and ICC profiles are ignored, as the release's
``convert("RGB")`` did. What cannot be read raises :class:`Unreadable` whose message is the skip
reason. Where the release would have dropped an image that we keep, the result carries a
``difference`` note.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import stat
from dataclasses import dataclass

from PIL import Image, ImageFile, UnidentifiedImageError

from conversion import regular_files
from conversion.pixels import fast_decode, file_structure, release_pipeline

MAX_IMAGE_PIXELS = 2 * 89_478_485
"""Images declaring more pixels are refused as decompression bombs. This is the limit at which
Pillow's default settings raise ``DecompressionBombError``, so we refuse what the release refused."""

MAX_RESIZED_PIXELS = 2**25
"""Natural images whose shorter-side resize would exceed this many pixels (about 100 MB as RGB) are
refused as aspect-ratio bombs: a 952-byte 300000x1 PNG would otherwise become 19200000x64 before its
crop. At 64 px this allows aspect ratios up to 8192:1, far beyond any photograph; images within the
limit take the release's path unchanged."""

MAX_SIDE = 2**22
"""Images with a longer side are refused as aspect-ratio bombs before any resize: Pillow's resize
weights take about 32 bytes per pixel of the input's side (5.7 GB for a 178000000x1 AI image squashed
to 64x64, within the decompression-bomb limit), so this bounds them to about 134 MB."""

MAX_FILE_BYTES = 256 * 1024 * 1024
"""Larger files are not read into memory (GenImage's largest images are a few MB)."""

FORMATS = ("JPEG", "MPO", "PNG", "GIF", "BMP", "WEBP")
"""Formats Pillow may decode here; others (EPS, which runs Ghostscript, TIFF, ...) are refused."""

SIGNATURES = {
    "PNG": re.compile(rb"\x89PNG\r\n\x1a\n"),
    "JPEG": re.compile(rb"\xff\xd8\xff"),  # MPO too
    "GIF": re.compile(rb"GIF8[79]a"),
    "BMP": re.compile(rb"BM"),
    "WEBP": re.compile(rb"RIFF.{4}WEBP", re.DOTALL),
}
"""The leading bytes of each format of :data:`FORMATS`, as Pillow recognises them: every stored file
starts with one, also when it is stored unchecked (``check="none"``)."""

NO_SIGNATURE = "not an image: no PNG, JPEG, GIF, BMP or WebP signature"

RELEASE_DROPPED = "kept; the release dropped it"
"""Prefix of a ``difference`` note: an image we keep that the release's pipeline could not save."""


class Unreadable(Exception):
    """An image file that cannot be decoded; the message is the skip reason."""


@dataclass(frozen=True)
class Converted:
    data: bytes
    difference: str | None = None


@contextlib.contextmanager
def strict_pillow():
    """Truncated files raise and our pixel limit applies, whatever the caller set in Pillow globally."""
    saved = ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = False, None
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = saved


def _registered_formats() -> tuple[str, ...]:
    Image.init()
    return tuple(f for f in FORMATS if f in Image.OPEN)


def _signature(data: bytes) -> str | None:
    return next((fmt for fmt, magic in SIGNATURES.items() if magic.match(data)), None)


def require_signature(data: bytes) -> None:
    """:class:`Unreadable` unless ``data`` starts like an image of a format read here."""
    if not data:
        raise Unreadable("empty file (0 bytes)")
    if _signature(data) is None:
        raise Unreadable(NO_SIGNATURE)


def open_header(data: bytes) -> Image.Image:
    """The image in ``data`` with its header read (not decoded); :class:`Unreadable` with the reason otherwise."""
    if not data:
        raise Unreadable("empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data), formats=_registered_formats())
    except UnidentifiedImageError:
        fmt = _signature(data)
        if fmt:
            raise Unreadable(f"bad header: {fmt} signature but the header cannot be read") from None
        raise Unreadable("not an image: no JPEG or PNG signature and no format Pillow reads here") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise Unreadable(f"bad header: {err}") from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise Unreadable(
            f"decompression bomb: {width}x{height} = {width * height} pixels declared, limit {MAX_IMAGE_PIXELS}"
        )
    return image


def open_checked(data: bytes) -> Image.Image:
    """The fully decoded image in ``data`` (by imagecodecs where it gives Pillow's pixels, see
    :mod:`conversion.pixels.fast_decode`); :class:`Unreadable` with the reason otherwise."""
    image = open_header(data)
    # aspect-ratio bombs (refused after decoding) are left to Pillow, whose decode of one long row takes least memory
    fast = fast_decode.decoded(data, image) if max(image.size) <= MAX_SIDE else None
    if fast is not None:
        image.close()
        return fast
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        image.close()
        reason = str(err) or type(err).__name__
        kind = "truncated" if "truncated" in reason.lower() else "corrupt"
        raise Unreadable(f"{kind}: {reason}") from None
    return image


def _release_dropped(image: Image.Image) -> str | None:
    """The note for an AI image the release could not save as PNG, else None."""
    return _release_dropped_mode(image.mode)


@functools.cache
def _release_dropped_mode(mode: str) -> str | None:
    """Whether PNG can store ``mode`` (judged on one pixel) decides it."""
    try:
        Image.new(mode, (1, 1)).save(io.BytesIO(), format="PNG")
    except (OSError, KeyError, ValueError) as err:
        return f"{RELEASE_DROPPED} ({err})"
    return None


def _ai_pixels(image: Image.Image, size: int) -> Converted:
    """The release's AI pipeline; images it could not save as PNG are kept as RGB and marked."""
    try:
        return Converted(release_pipeline.png_bytes(release_pipeline.ai_pixels(image, size)))
    except (OSError, KeyError, ValueError) as err:
        small = image.resize((size, size)).convert("RGB")
        return Converted(release_pipeline.png_bytes(small), f"{RELEASE_DROPPED} ({err})")


def _check_resize(image: Image.Image, source: str, size: int) -> None:
    """:class:`Unreadable` if resizing ``image`` to ``size`` would take unbounded memory (an aspect-ratio bomb)."""
    if max(image.size) > MAX_SIDE:
        raise Unreadable(f"aspect-ratio bomb: {image.width}x{image.height}, a side over the limit of {MAX_SIDE} pixels")
    if source == "ai":
        return
    width, height = release_pipeline.resized_size(*image.size, size)
    if width * height > MAX_RESIZED_PIXELS:
        raise Unreadable(
            f"aspect-ratio bomb: {image.width}x{image.height} resized to {width}x{height} = {width * height} pixels "
            f"before the crop, limit {MAX_RESIZED_PIXELS}"
        )


CHECKS = ("decode", "structure", "none")
"""How files kept at full resolution are checked: decoded in full; their structure only
(:mod:`conversion.pixels.file_structure`, after Pillow has read the header); not at all (read only)."""


def _structure_checked(data: bytes, source: str) -> Converted:
    with open_header(data) as image:
        check = file_structure.CHECK_OF_FORMAT.get(image.format)
        if check is not None:
            try:
                check(data)
            except file_structure.Broken as err:
                raise Unreadable(str(err)) from None
        return Converted(data, _release_dropped(image) if source == "ai" else None)


def convert(data: bytes, source: str, image_size: int | None, check: str = "decode") -> Converted:
    """``data`` checked and converted: release pixels as PNG, or ``data`` itself if ``image_size`` is None.

    ``check`` ("decode", "structure" or "none", see :data:`CHECKS`) applies to ``image_size`` None;
    converted pixels always come from a full decode.
    """
    require_signature(data)
    if image_size is None and check == "none":
        return Converted(data)
    with strict_pillow():
        if image_size is None and check == "structure":
            return _structure_checked(data, source)
        with open_checked(data) as image:
            if image_size is not None:
                _check_resize(image, source, image_size)
            try:
                if image_size is None:
                    return Converted(data, _release_dropped(image) if source == "ai" else None)
                if source == "ai":
                    return _ai_pixels(image, image_size)
                return Converted(release_pipeline.png_bytes(release_pipeline.nature_pixels(image, image_size)))
            except (OSError, ValueError) as err:  # decoded, but Pillow cannot convert its mode
                raise Unreadable(f"cannot convert: {err}") from None


def lies_in(real: str, folders: tuple[str, ...]) -> bool:
    """Whether the real path ``real`` lies in one of the real ``folders`` (or is one of them)."""
    return any(real == folder or real.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders)


OUTSIDE = "outside the tree: a link to a file outside data_dir and its generator folder"
"""Skip reason of a file whose real path lies outside the tree (see :func:`read_limited`)."""

def read_limited(path: str, folders: tuple[str, ...] = ()) -> bytes:
    """The bytes of the regular file ``path``; :class:`Unreadable` if it cannot be read, is implausibly
    large, is no regular file, or its bytes read differ from its size. If ``folders`` are given (real
    paths), its real path must lie in one of them (:data:`OUTSIDE` otherwise)."""
    return read_file(path, folders)[0]


def read_file(path: str, folders: tuple[str, ...] = ()) -> tuple[bytes, os.stat_result]:
    """:func:`read_limited`, with the stat of the file that was read."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
        if folders and not lies_in(real, folders):
            raise Unreadable(OUTSIDE)
        _require_regular(st)
        with regular_files.open_regular(real) as f:  # never blocks, never follows a link swapped in
            st = _require_regular(os.fstat(f.fileno()))
            data = f.read(MAX_FILE_BYTES + 1)
    except regular_files.NotRegularFile:
        raise Unreadable("not a regular file") from None
    except OSError as err:
        raise Unreadable(f"cannot read file: {err.strerror or err}") from None
    if len(data) != st.st_size:
        raise Unreadable(f"size mismatch: read {len(data)} bytes from a file whose size is {st.st_size}")
    return data, st


def _require_regular(st: os.stat_result) -> os.stat_result:
    if not stat.S_ISREG(st.st_mode):
        raise Unreadable("not a regular file")
    if st.st_size > MAX_FILE_BYTES:
        raise Unreadable(f"file too large: {st.st_size} bytes, limit {MAX_FILE_BYTES}")
    return st
