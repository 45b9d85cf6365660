"""The release's pixel pipeline (docs/release.md#pixel-pipeline), reproduced exactly, plus the stored PNG encoding.

AI images: ``Image.resize((s, s))`` with Pillow's default filter on the image as opened, a PNG
round trip, then RGB. Natural images: RGB, shorter side to ``s`` with the bilinear filter
(torchvision's Resize rule), then a centre crop of ``s`` x ``s`` (torchvision's rounding). Then
ToTensor's layout (:func:`chw_uint8`) and Normalize's constants (:func:`normalization`).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from PIL import Image

from conversion.contract import tables

if TYPE_CHECKING:
    import numpy as np
    import torch

# numpy and torch are imported where used: importing this module (decode does) stays light.

PNG_EXACT_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})
"""Modes a PNG round trip gives back unchanged: for them the release's save-and-reopen is skipped."""


def ai_pixels(image: Image.Image, size: int) -> Image.Image:
    small = image.resize((size, size))
    if small.mode in PNG_EXACT_MODES:
        return small.convert("RGB")
    buffer = io.BytesIO()
    small.save(buffer, format="PNG")
    buffer.seek(0)
    with Image.open(buffer) as reopened:
        return reopened.convert("RGB")


def resized_size(width: int, height: int, size: int) -> tuple[int, int]:
    """torchvision ``Resize(size)``: the shorter side becomes ``size``, the longer is truncated."""
    if width <= height:
        return size, int(size * height / width)
    return int(size * width / height), size


def center_crop_box(width: int, height: int, size: int) -> tuple[int, int, int, int]:
    """torchvision ``CenterCrop(size)`` box for an image at least ``size`` on each side."""
    left = int(round((width - size) / 2.0))
    top = int(round((height - size) / 2.0))
    return left, top, left + size, top + size


def nature_pixels(image: Image.Image, size: int) -> Image.Image:
    rgb = image if image.mode == "RGB" else image.convert("RGB")  # convert() of RGB is a plain copy
    width, height = resized_size(*rgb.size, size)
    resized = rgb.resize((width, height), Image.Resampling.BILINEAR)
    return resized.crop(center_crop_box(width, height, size))


def release_pixels(image: Image.Image, source: str, size: int) -> Image.Image:
    """The RGB ``size`` x ``size`` image the release pipeline makes of ``image``."""
    return ai_pixels(image, size) if source == "ai" else nature_pixels(image, size)


def chw_uint8(image: Image.Image) -> np.ndarray:
    """uint8 ``[3, H, W]`` pixels of ``image`` converted to RGB (unless it is): ToTensor's layout, before its
    division by 255. A read-only view where Pillow's buffer allows it: copy it to write into it."""
    import numpy as np

    rgb = image if image.mode == "RGB" else image.convert("RGB")
    return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)


def normalization() -> tuple[torch.Tensor, torch.Tensor]:
    """The release's Normalize ``mean`` and ``std`` (``dictionaries/release_pixels.json``) as float32
    tensors shaped ``[3, 1, 1]``, to broadcast over ``[..., 3, H, W]``."""
    import torch

    constants = tables.release_pixels()
    mean = torch.tensor(constants["mean"], dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(constants["std"], dtype=torch.float32).view(-1, 1, 1)
    return mean, std


def png_bytes(pixels: Image.Image | np.ndarray) -> bytes:
    """PNG of RGB pixels alone (an RGB image or uint8 ``[H, W, 3]``): no ICC profile, EXIF or other metadata
    carried over from the source. libpng (through imagecodecs) encodes every row with the Paeth filter at
    zlib's default level: the pixels the same, about twice as fast as trying each filter per row, files
    about 2% larger (benchmarks/README.md, group g)."""
    import imagecodecs
    import numpy as np

    array = np.ascontiguousarray(pixels, dtype=np.uint8)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"png_bytes takes RGB pixels [H, W, 3], not an array of shape {array.shape}")
    return imagecodecs.png_encode(array, level=imagecodecs.PNG.COMPRESSION.DEFAULT,
                                  filter=imagecodecs.PNG.FILTER.PAETH)
