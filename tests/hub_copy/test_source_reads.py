"""One publish opens its source once: each folder listed about once, each file stat'ed at most once,
and a publish that finds every part done reads no tensor file at all."""

from __future__ import annotations

import collections
import os
from pathlib import Path

import pytest
import torch

from conversion import cli
from conversion.samples.genimage_tree import make_sample_tree
from conversion.samples.tensor_release import make_sample_release

GENERATORS = ["adm", "sdv14"]
MAX_LISTINGS_PER_FOLDER = 1.5
MAX_STATS_PER_FILE = 1


@pytest.fixture(scope="module")
def two_generators(tmp_path_factory) -> tuple[Path, Path]:
    """A raw tree of two generators and the release written from it."""
    tree = make_sample_tree(tmp_path_factory.mktemp("reads") / "GenImage", generators=GENERATORS)
    return tree, make_sample_release(tree, tmp_path_factory.mktemp("reads") / "release", generators=GENERATORS)


class Calls:
    """``os.scandir``, ``os.listdir`` and ``os.stat`` calls on paths inside ``root``, by path."""

    def __init__(self, monkeypatch, root: Path):
        self.root = os.path.realpath(root)
        self.listings: collections.Counter = collections.Counter()
        self.stats: collections.Counter = collections.Counter()
        for name, counter in (("scandir", self.listings), ("listdir", self.listings), ("stat", self.stats)):
            monkeypatch.setattr(os, name, self._counting(getattr(os, name), counter))

    def _counting(self, call, counter):
        def counted(path=".", *args, **kwargs):
            if not isinstance(path, int):
                where = os.path.abspath(os.fspath(path))
                if where == self.root or where.startswith(self.root + os.sep):
                    counter[where] += 1
            return call(path, *args, **kwargs)

        return counted


def _folders_and_files(root: Path) -> tuple[list[str], list[str]]:
    walked = list(os.walk(root))
    return [folder for folder, _, _ in walked], [os.path.join(folder, f) for folder, _, files in walked for f in files]


def _publish(data_dir: Path, out: Path) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["publish", "--data-dir", str(data_dir), "--out", str(out), "--no-progress"])
    assert done.value.code == 0


@pytest.mark.parametrize("kind", ["raw tree", "release"])
def test_one_publish_lists_each_folder_about_once_and_stats_each_file_at_most_once(two_generators, kind, tmp_path,
                                                                                    monkeypatch):
    source = two_generators[0] if kind == "raw tree" else two_generators[1]
    folders, files = _folders_and_files(source)
    with monkeypatch.context() as patched:
        calls = Calls(patched, source)
        _publish(source, tmp_path / "copy")
    listings = sum(calls.listings.values())
    assert listings / len(folders) <= MAX_LISTINGS_PER_FOLDER, (listings, len(folders))
    assert set(calls.listings) <= set(folders)
    most = max((calls.stats[path] for path in files), default=0)
    assert most <= MAX_STATS_PER_FILE, calls.stats.most_common(3)


def test_a_publish_that_finds_every_part_done_reads_no_tensor_file(two_generators, tmp_path, monkeypatch):
    release = two_generators[1]
    _publish(release, tmp_path / "copy")
    opened, loaded = [], []
    real_open, real_load = os.open, torch.load
    with monkeypatch.context() as patched:
        patched.setattr(os, "open", lambda path, *a, **k: opened.append(os.fspath(path)) or real_open(path, *a, **k))
        patched.setattr(torch, "load", lambda *a, **k: loaded.append(a[:1]) or real_load(*a, **k))
        calls = Calls(patched, release)
        _publish(release, tmp_path / "copy")
    assert [path for path in opened if path.endswith(".pt")] == []
    assert loaded == []
    assert sum(calls.listings.values()) <= len(_folders_and_files(release)[0])
