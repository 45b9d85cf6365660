"""Pillow's exact pixels, decoded faster by imagecodecs where that is proven to give them.

imagecodecs (optional: ``pip install -e '.[fast]'`` in the checkout) decodes PNGs with libpng and zlib-ng,
1.4-1.9x faster than Pillow, and JPEGs with libjpeg-turbo, a few percent faster than Pillow 13 (which
uses libjpeg-turbo too). It is used only for files whose header, as Pillow reads it, puts them where
its output equals Pillow's bit for bit (tests/pixels/test_fast_decode.py):

- PNG: 8-bit grayscale, grayscale + alpha, RGB or RGBA, not interlaced, not animated, without a
  tRNS transparency (palette, 1/2/4/16-bit, transparency and APNG go through Pillow), its chunks
  complete and nothing but IDAT chunks and IEND from the image data on (Pillow reads the chunks after
  the image data and may refuse them);
- JPEG: baseline or extended Huffman, one scan, grayscale or YCbCr (no Adobe marker), and only
  while Pillow's own JPEG library is libjpeg-turbo decoding a probe image identically; the stream
  must reach its end-of-image marker (libjpeg-turbo, unlike Pillow, quietly fills truncated files).

Everything else, and anything imagecodecs refuses, is decoded by Pillow, whose errors give the skip
reason. Without imagecodecs everything goes through Pillow, with the same pixels.
"""

from __future__ import annotations

import functools
import io

from PIL import Image, features

from conversion.pixels import file_structure

PNG_MODES = frozenset({"L", "LA", "RGB", "RGBA"})
JPEG_MODES = frozenset({"L", "RGB"})
JPEG_FRAMES = frozenset({0xC0, 0xC1})
"""Baseline and extended sequential Huffman frames (progressive and arithmetic go through Pillow)."""
_CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


@functools.cache
def codecs():
    """The imagecodecs module, or None where it is not installed; imported on first use (it imports
    numpy), so that the command line's help stays quick."""
    try:
        import imagecodecs
    except ImportError:
        return None
    return imagecodecs


def _png_proven(data: bytes, image: Image.Image) -> bool:
    tile = image.tile[0]
    if not (tile[0] == "zip" and tile[3] == image.mode and image.mode in PNG_MODES
            and not {"transparency", "interlace"} & image.info.keys() and getattr(image, "n_frames", 1) == 1):
        return False
    try:  # Pillow reads the chunks after the image data and may refuse them: leave any there to Pillow
        kinds = file_structure.png_chunks(data, verify_crc=False)
    except file_structure.Broken:
        return False
    if b"IDAT" not in kinds:
        return False
    return set(kinds[kinds.index(b"IDAT") : -1]) == {b"IDAT"}  # the last is IEND


def _jpeg_proven(data: bytes, image: Image.Image) -> bool:
    tile = image.tile[0]
    if not (tile[0] == "jpeg" and tile[3][0] == image.mode and image.mode in JPEG_MODES
            and not {"adobe", "progressive", "progression"} & image.info.keys() and _same_jpeg_library()):
        return False
    try:
        layout = file_structure.jpeg_layout(data)
    except file_structure.Broken:
        return False
    return layout.frame_marker in JPEG_FRAMES and layout.scans == 1


@functools.cache
def _same_jpeg_library() -> bool:
    """True if Pillow decodes with libjpeg-turbo and both decode a probe (colour 4:2:0 and 4:4:4,
    grayscale) to the same pixels: another libjpeg (e.g. IJG 9) may upsample differently."""
    import numpy as np

    imagecodecs = codecs()
    if imagecodecs is None or not features.check_feature("libjpeg_turbo"):
        return False
    rng = np.random.default_rng(0)
    probe = Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)).resize((75, 61))
    for image, params in ((probe, {}), (probe, {"subsampling": 0}), (probe.convert("L"), {})):
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=87, **params)
        with Image.open(buffer) as reference:
            if not np.array_equal(np.asarray(reference), imagecodecs.jpeg8_decode(buffer.getvalue())):
                return False
    return True


def decoded(data: bytes, image: Image.Image) -> Image.Image | None:
    """``image`` (opened by Pillow from ``data``, not yet loaded) decoded by imagecodecs, or None
    where identity with Pillow is not proven or imagecodecs refuses the file: then Pillow decodes it."""
    imagecodecs = codecs()
    if imagecodecs is None or len(image.tile) != 1:
        return None
    if image.format == "PNG" and _png_proven(data, image):
        decode, errors = imagecodecs.png_decode, imagecodecs.PngError
    elif image.format == "JPEG" and _jpeg_proven(data, image):
        decode, errors = imagecodecs.jpeg8_decode, imagecodecs.Jpeg8Error
    else:
        return None
    try:
        array = decode(data)
    except (errors, ValueError, MemoryError):
        return None
    width, height = image.size
    channels = 1 if array.ndim == 2 else array.shape[2]
    if array.dtype.name != "uint8" or array.shape[:2] != (height, width) or channels != _CHANNELS[image.mode]:
        return None
    result = Image.fromarray(array)
    return result if result.mode == image.mode else None
