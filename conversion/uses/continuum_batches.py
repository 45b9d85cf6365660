"""Continuum task sets over :class:`conversion.uses.decoded_rows.DecodedRows` that hand a DataLoader whole batches.

Continuum's task sets turn every row into a Pillow image and run the transformations on it, one row at a
time (benchmarks/README.md, group h). A scenario passed through :func:`scenario` gives its task sets a
``__getitems__`` (torch's DataLoader fetches a batch with one call of it): when a task set reads decoded
rows and its transformations are Continuum's default (``ToTensor``) or ``PILToTensor`` followed by one of
the paper's input transforms (:mod:`conversion.uses.paper_inputs`), the batch is one gather of the decoded
pixels and one call of that transform, or views of that transform's inputs computed once (those of
``continuum_scenario(preprocess=...)``), with the values row-by-row fetching gives. Anything else (other
transformations, target transformations, bounding boxes) is fetched row by row, by Continuum itself.
"""

from __future__ import annotations

import numpy as np

from conversion.uses import library_classes, paper_inputs
from conversion.uses.decoded_rows import DecodedRows


def scenario(scenario_object):
    """``scenario_object`` (a Continuum scenario) whose task sets fetch batches at once where they can
    (:func:`conversion.uses.library_classes.extend`)."""
    return library_classes.extend(scenario_object, __getitem__=_task_set)


def _task_set(self, task_index):
    task_set = type(self).__mro__[1].__getitem__(self, task_index)
    if isinstance(task_set._x, DecodedRows):
        library_classes.extend(task_set, __getitems__=_getitems)
    return task_set


def _getitems(self, indices) -> list:
    transform = _batch_transform(self)
    if transform is None:
        return [self[i] for i in indices]
    import torch

    indices = np.asarray(indices, dtype=np.int64)
    cached = self._x.inputs.get(paper_inputs.name_of(transform))
    if cached is not None:
        images = cached.rows(self._x.index[indices])
    else:
        images = transform(torch.from_numpy(self._x.batches.gather("image", self._x.index[indices]))).unbind(0)
    return list(zip(images, self._y[indices], self._t[indices]))  # numpy ints, as the task set's own rows


def _batch_transform(task_set):
    """The paper input transform equal to ``task_set``'s transformations of one Pillow image, or None."""
    if task_set.target_trsf is not None or task_set.bounding_boxes is not None:
        return None
    if task_set.trsf is None:
        return paper_inputs.unit  # the task set's own ToTensor
    from torchvision.transforms import Compose, PILToTensor, ToTensor

    steps = task_set.trsf.transforms if isinstance(task_set.trsf, Compose) else []
    if len(steps) == 1 and type(steps[0]) is ToTensor:  # Continuum's default: x / 255 in float32
        return paper_inputs.unit
    if len(steps) == 2 and type(steps[0]) is PILToTensor and steps[1] in paper_inputs.BATCHED:
        return steps[1]
    return None
