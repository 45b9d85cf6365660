"""The release's corrupted test copies (docs/paper-loader.md#corruption-recipe): the recipe, step by step.

One run per corruption, task and source: seed ``random``, NumPy and torch with 1; take the
loader's first floor(N / 10) * 10 rows of ``X``; unnormalize them in float32 torch ops; then
corrupt image by image, in order, at severity 3, writing each result into a float32 tensor. The
values are float32 in [0, 1] (noise: unbounded), not uint8 pixels. scikit-image (the library the
recipe uses) is an optional extra: ``pip install -e '.[corruptions]'`` in the checkout.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

# numpy and torch are imported where used: the command line's help, which lists CORRUPTIONS, stays quick.
if TYPE_CHECKING:
    import numpy as np
    import torch

CORRUPTIONS = ("gaussian_noise", "gaussian_blur", "saturate", "rotate")
SEED = 1
NOISE_STD = 0.18
BLUR_SIGMA = 3
SATURATE = (2, 0)
ROTATE_RADIANS = 0.6
EXTRA = "pip install -e '.[corruptions]' in the checkout (or pip install scikit-image)"

DESCRIPTIONS = {
    "gaussian_noise": f"adds torch.normal(0, {NOISE_STD}) noise to every value (not clipped)",
    "gaussian_blur": f"skimage.filters.gaussian with sigma {BLUR_SIGMA} per channel, clipped to [0, 1]",
    "saturate": f"HSV values times {SATURATE[0]} plus {SATURATE[1]} (skimage.color), clipped, back to RGB, "
                "clipped to [0, 1]",
    "rotate": f"rotated by {ROTATE_RADIANS} rad about the centre (direction drawn per image; "
              "skimage.transform.warp), clipped to [0, 1]",
}


class MissingExtra(ImportError):
    """scikit-image is not installed."""


def kept_rows(count: int) -> int:
    """Rows the paper's loader keeps of a part of ``count`` rows: the first floor(N / 10) * 10."""
    return count // 10 * 10


def check(corruption: str) -> str:
    if corruption not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {corruption!r}; expected one of {', '.join(CORRUPTIONS)}")
    return corruption


def require(names) -> tuple[str, ...]:
    """``names`` checked, and scikit-image importable if one of them needs it (one line naming the extra)."""
    names = tuple(check(name) for name in names)
    if any(name != "gaussian_noise" for name in names):
        _skimage()
    return names


def _skimage():
    try:
        import skimage.color
        import skimage.filters
        import skimage.transform
    except ImportError:
        raise MissingExtra(f"the corruptions need scikit-image: {EXTRA}") from None
    return skimage


def unnormalize(x: torch.Tensor) -> torch.Tensor:
    """``x * std + mean`` (float32 ``[N, 3, H, W]``) in float32 torch ops, on the release's constants."""
    from conversion.pixels import release_pipeline

    mean, std = release_pipeline.normalization()
    return x * std + mean


def _gaussian_noise(image: torch.Tensor, sk) -> torch.Tensor:
    import torch

    return image + torch.normal(0, NOISE_STD, size=image.size())


def _gaussian_blur(image: torch.Tensor, sk) -> np.ndarray:
    import numpy as np

    return np.clip(sk.filters.gaussian(image.numpy(), sigma=BLUR_SIGMA, channel_axis=0), 0, 1)


def _saturate(image: torch.Tensor, sk) -> np.ndarray:
    import numpy as np

    hsv = sk.color.rgb2hsv(image.numpy(), channel_axis=0)
    hsv = np.clip(hsv * SATURATE[0] + SATURATE[1], 0, 1)
    return np.clip(sk.color.hsv2rgb(hsv, channel_axis=0), 0, 1)


def _rotate(image: torch.Tensor, sk) -> np.ndarray:
    import numpy as np

    angle = ROTATE_RADIANS * np.random.choice([-1, 1], 1)[0]
    matrix = sk.transform.AffineTransform(rotation=angle).params
    (a1, a2), (b1, b2) = matrix[0, :2], matrix[1, :2]
    half = image.shape[-1] // 2
    transform = sk.transform.AffineTransform(
        rotation=angle, translation=[half * (1 - a1 - a2), half * (1 - b1 - b2)]
    )
    hwc = image.numpy().transpose(1, 2, 0)
    return np.clip(sk.transform.warp(hwc, inverse_map=transform), 0, 1).transpose(2, 0, 1)


_RECIPES = {"gaussian_noise": _gaussian_noise, "gaussian_blur": _gaussian_blur, "saturate": _saturate,
            "rotate": _rotate}


def corrupt(x: torch.Tensor, corruption: str) -> torch.Tensor:
    """The corrupted copy of one part's normalized ``X`` (float32 [N, 3, H, W]): [floor(N/10)*10, 3, H, W]."""
    import numpy as np
    import torch

    recipe = _RECIPES[check(corruption)]
    sk = None if corruption == "gaussian_noise" else _skimage()
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    rows = unnormalize(x[: kept_rows(len(x))].to(torch.float32))
    out = torch.empty_like(rows)
    for index, image in enumerate(rows):
        result = recipe(image, sk)
        out[index] = result if isinstance(result, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(result))
    return out
