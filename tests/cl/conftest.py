"""Fixtures of the continual-learning tests (run in the CL environment by .ci/cl.sh).

Each test module skips itself where torchvision, Avalanche, Continuum or timm are absent, as in the
main environment, whose CPU torch pin cannot host torchvision.
"""

from __future__ import annotations

import numpy as np
import pytest

from conversion.contract import tables
from conversion.sources import kinds


@pytest.fixture(scope="session")
def ds(sample_root, build):
    """sdv14 of the sample tree: six tasks, two classes each, one image per class, split and source."""
    return build("sdv14", sample_root)


def rows(ds, split: str, task: int, source: str | None = None) -> dict[str, list]:
    """The columns of one task's rows (one source, or both), read without the image column."""
    columns = ds[split].select_columns(["task", "source", "task_label", "label"]).with_format("numpy")[:]
    keep = columns["task"] == task
    if source is not None:
        keep &= columns["source"] == tables.SOURCES.index(source)
    return {name: np.asarray(values)[keep].tolist() for name, values in columns.items()}


@pytest.fixture(scope="session")
def hub_copy(sample_root, tmp_path_factory):
    """The Hub copy (Parquet shards + card) of sdv14's six tasks, as ``publish --out genimage-cl`` writes it."""
    from conversion.hub_copy import publish
    from conversion.samples.tensor_release import make_sample_release

    root = tmp_path_factory.mktemp("copy")
    release = make_sample_release(sample_root, root / "release", generators=["sdv14"])
    return publish.build_mirror(kinds.open_source(release), root / "genimage-cl", log=lambda line: None).out
