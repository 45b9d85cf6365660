"""Skipping the release's PNG round trip for AI images changes no pixel in the modes it is skipped for."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from conversion.pixels import release_pipeline


def round_trip_pixels(image: Image.Image, size: int) -> np.ndarray:
    """The release's rule, literally: resize, save PNG, re-open, RGB."""
    buffer = io.BytesIO()
    image.resize((size, size)).save(buffer, format="PNG")
    buffer.seek(0)
    with Image.open(buffer) as reopened:
        return np.asarray(reopened.convert("RGB"))


def images_of_every_exact_mode():
    rng = np.random.default_rng(0)
    rgba = Image.fromarray(rng.integers(0, 256, (96, 80, 4), dtype=np.uint8), "RGBA")
    palette = rgba.convert("RGB").quantize(50)
    transparent = palette.copy()
    transparent.info["transparency"] = 3
    yield from [rgba, rgba.convert("RGB"), rgba.convert("L"), rgba.convert("LA"), rgba.convert("1"), palette,
                transparent]


@pytest.mark.parametrize("image", list(images_of_every_exact_mode()), ids=lambda im: im.mode)
def test_ai_pixels_equal_the_round_trip(image):
    assert image.mode in release_pipeline.PNG_EXACT_MODES
    for size in (64, 32):
        assert np.array_equal(np.asarray(release_pipeline.ai_pixels(image, size)), round_trip_pixels(image, size))


def test_other_modes_keep_the_round_trip():
    image = Image.fromarray((np.arange(96 * 80, dtype=np.uint16).reshape(96, 80) * 7).astype(np.uint16))
    assert image.mode not in release_pipeline.PNG_EXACT_MODES
    assert np.array_equal(np.asarray(release_pipeline.ai_pixels(image, 64)), round_trip_pixels(image, 64))
