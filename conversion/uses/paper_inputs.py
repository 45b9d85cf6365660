"""The model inputs of uint8 pixels: [0, 1] floats, the release's ``X.pt`` values, or the paper's training inputs.

Each transform takes a uint8 tensor ``[..., 3, H, W]`` (one image or a batch: the constants broadcast)
and returns float32, computed with the same float32 torch operations, in the same order, as the values
it reproduces (docs/release.md#pixel-pipeline, docs/paper-loader.md#loader-rules):

- ``unit``: ``x / 255`` (torchvision's ``ToTensor``), in [0, 1];
- ``normalized``: ``(x / 255 - mean) / std`` with the release's mean and std: ``X.pt`` exactly;
- ``unnormalized``: ``normalized * std + mean``: what the paper trains on with its default
  ``preprocess="Unnormalized"`` (rule 6 of the loader), exactly. It differs from ``unit`` in the last
  bits of some values, which is why it is offered apart.

The paper unnormalizes a part only when its smallest ``X.pt`` value is below -0.001, i.e. when some pixel
of the part has a channel under its mean (0.485, 0.456, 0.406 of 255): every real part; ``unnormalized``
always does.
"""

from __future__ import annotations

import functools

from conversion.pixels import release_pipeline

_normalization = functools.cache(release_pipeline.normalization)
"""The release's mean and std, made once per process (they are only read: every transform works on its own copy)."""


def unit(image):
    """uint8 -> float32 ``x / 255`` (a new tensor; then worked on in place, one allocation per call)."""
    import torch

    return image.to(torch.float32, copy=True).div_(255)


def normalized(image):
    """uint8 -> float32 as the release's ``X.pt``: ``ToTensor`` then ``Normalize(mean, std)``."""
    mean, std = _normalization()
    return unit(image).sub_(mean).div_(std)


def unnormalized(image):
    """uint8 -> float32 as the paper's ``preprocess="Unnormalized"``: ``X.pt * std + mean``."""
    mean, std = _normalization()
    return normalized(image).mul_(std).add_(mean)


PREPROCESS = {"unit": unit, "normalized": normalized, "unnormalized": unnormalized}
"""Name -> transform. All of them work on a batch as on one image (:data:`BATCHED`)."""

BATCHED = frozenset(PREPROCESS.values())
"""Transforms that give each image of a batch what they give it alone, so loaders may apply them per batch."""


def name_of(transform) -> str | None:
    """The name of ``transform`` if it is one of :data:`PREPROCESS`, else None."""
    return next((name for name, known in PREPROCESS.items() if transform is known), None)


def transform(name: str):
    """The transform called ``name`` (a key of :data:`PREPROCESS`)."""
    if name not in PREPROCESS:
        raise ValueError(f"preprocess must be one of {sorted(PREPROCESS)}, got {name!r}")
    return PREPROCESS[name]
