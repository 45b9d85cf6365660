"""The model-input transforms against the sample release's X.pt: normalized is X.pt, unnormalized the paper's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conversion.contract import tables
from conversion.samples.tensor_release import release_folder
from conversion.sources import release
from conversion.uses import paper_inputs, streams


@pytest.fixture(scope="module")
def parts(sample_release, build):
    """{(task, split, source): (uint8 images of the built view in X.pt row order, X.pt)} of sdv14 built from the
    sample release."""
    ds = build("sdv14", sample_release)
    found = {}
    for task in streams.tasks(ds):
        for split in ("train", "test"):
            for source in tables.SOURCES:
                view = streams.tasks(ds, source=source)[task.index].splits[split]
                order = np.argsort([release.release_index(n) for n in view["file_name"]])
                images = torch.stack([torch.from_numpy(np.array(view[int(i)]["image"])).permute(2, 0, 1)
                                      for i in order])
                folder = release_folder(sample_release, "original", "sdv14", task.index, split, source)
                found[task.index, split, source] = images, torch.load(folder / "X.pt", weights_only=True)
    return found


def test_normalized_is_x_pt_exactly(parts):
    for (task, split, source), (images, x) in parts.items():
        assert images.dtype == torch.uint8 and len(images) == len(x) > 0
        assert torch.equal(paper_inputs.normalized(images), x), (task, split, source)
        assert torch.equal(paper_inputs.normalized(images[0]), x[0])


def test_unnormalized_is_the_papers_values_exactly(parts):
    """The paper's rule 6 (docs/paper-loader.md#loader-rules): x * std + mean, both float32 [1, 3, 1, 1]."""
    constants = tables.release_pixels()
    mean = torch.tensor(constants["mean"], dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(constants["std"], dtype=torch.float32).view(1, 3, 1, 1)
    differs = 0
    for (task, split, source), (images, x) in parts.items():
        assert x.min() < -0.001  # the paper's condition for unnormalizing holds on every sample part
        paper = x * std + mean
        assert torch.equal(paper_inputs.unnormalized(images), paper), (task, split, source)
        differs += int((paper != paper_inputs.unit(images)).sum())
    assert differs > 0  # why the paper's inputs are offered apart from x / 255


def test_transforms_leave_their_input_alone_and_are_named():
    image = torch.arange(3 * 4 * 4, dtype=torch.uint8).view(3, 4, 4)
    before = image.clone()
    for name, transform in paper_inputs.PREPROCESS.items():
        out = paper_inputs.transform(name)(image)
        assert out.dtype == torch.float32 and torch.equal(image, before) and transform in paper_inputs.BATCHED
    assert torch.equal(paper_inputs.unit(image), image.float() / 255)
    with pytest.raises(ValueError, match="preprocess must be one of .*'Unnormalized'"):
        paper_inputs.transform("Unnormalized")
