"""Shared fixtures: a sample GenImage tree (all eight generators) and cached builds of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conversion.samples.genimage_tree import make_sample_tree

REFERENCE = Path(__file__).resolve().parents[2] / "shared"
"""The reference files' folder beside the checkout (docs/README.md#reference-files); tests reading it skip
without it."""


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory) -> Path:
    """All eight generators in the ``<Top>/<inner>/`` layout, two classes per task."""
    return make_sample_tree(tmp_path_factory.mktemp("genimage") / "GenImage")


@pytest.fixture(scope="session")
def sample_release(sample_root, tmp_path_factory) -> Path:
    """The release's six generators written from ``sample_root`` as the original scripts laid them out."""
    from conversion.samples.tensor_release import make_sample_release

    return make_sample_release(sample_root, tmp_path_factory.mktemp("release") / "release")


@pytest.fixture(scope="session")
def build(tmp_path_factory):
    """build(config_name, data_dir, **config_kwargs) -> DatasetDict, cached per session."""
    from genimage_cl import GenImageCL

    cache_dir = tmp_path_factory.mktemp("hf_cache")
    built = {}

    def _build(config_name, data_dir, **kwargs):
        key = (config_name, str(data_dir), tuple(sorted(kwargs.items())))
        if key not in built:
            builder = GenImageCL(config_name=config_name, data_dir=str(data_dir), cache_dir=str(cache_dir), **kwargs)
            builder.download_and_prepare()
            built[key] = builder.as_dataset()
        return built[key]

    return _build


@pytest.fixture(scope="session", autouse=True)
def content_digests_store(tmp_path_factory):
    """Builds' content digests go to a folder of this session (inherited by subprocesses), not the user's cache."""
    from conversion.sources import content_digests

    os.environ[content_digests.ROOT_VARIABLE] = str(tmp_path_factory.mktemp("content_digests"))


def pytest_configure(config):
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
