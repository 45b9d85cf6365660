"""verify-copy and publish read only regular files inside the copy: no FIFO blocks them, no link leads out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conversion.hub_copy import publish
from conversion.sources import kinds

ROOT = Path(__file__).resolve().parents[2]
PART = "sdv14-task3"
SHARD = "data/sdv14/task3/test-00000-of-00001.parquet"
TRAIN_SHARD = "data/sdv14/task3/train-00000-of-00001.parquet"


@pytest.fixture(scope="module")
def source(sample_root, tmp_path_factory) -> Path:
    """sdv14 alone, so that a plain publish that was not refused builds six parts, not 48."""
    root = tmp_path_factory.mktemp("source") / "GenImage"
    shutil.copytree(sample_root / "stable_diffusion_v_1_4", root / "stable_diffusion_v_1_4")
    return root


@pytest.fixture(scope="module")
def built(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "copy"
    publish.build_parts_only(kinds.open_source(source), out, [PART], log=lambda line: None)
    return out


@pytest.fixture
def copy(built, tmp_path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(built, out, symlinks=True)
    return out


def _cli(*args: str) -> subprocess.CompletedProcess:
    """The command run in its own process, so that a reader blocked on a FIFO fails the test instead of hanging it."""
    return subprocess.run([sys.executable, "-m", "conversion", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def _publish(source: Path, copy: Path, *args: str) -> subprocess.CompletedProcess:
    return _cli("publish", "--data-dir", str(source), "--out", str(copy), "--no-progress", *args)


def _foreign(copy: Path, names: str) -> str:
    return (f"error: {copy}: {names} not written by genimage-cl; a run deletes and replaces only files it wrote: "
            f"move them out of {copy} or choose another output folder")


def test_a_fifo_in_the_copy_is_a_problem_not_a_hang(copy, source):
    os.mkfifo(copy / "data/sdv14/task3/x.parquet")
    done = _cli("verify-copy", str(copy), "--no-progress")
    assert done.returncode == 1, done.stderr
    assert "  problem: data/sdv14/task3/x.parquet: a FIFO, not a regular file; not read\n" in done.stdout
    assert done.stdout.startswith(f"{copy}: 2 shard(s) intact")
    done = _publish(source, copy, "--part", PART)
    assert done.returncode == 1
    assert done.stderr.strip() == _foreign(copy, "data/sdv14/task3/x.parquet")
    os.mkfifo(copy / "README.md")
    done = _cli("verify-copy", str(copy), "--no-progress")
    assert f"  problem: {copy}/README.md: a FIFO, not a regular file; not read\n" in done.stdout
    assert _publish(source, copy).stderr.strip() == _foreign(copy, "README.md, data/sdv14/task3/x.parquet")


def test_a_fifo_or_a_link_in_a_shards_place_is_rebuilt_never_read(copy, source, tmp_path):
    shard = copy / SHARD
    data = shard.read_bytes()
    shard.unlink()
    os.mkfifo(shard)
    assert _cli("verify-copy", str(copy), "--no-progress").stdout.splitlines()[2:] == [
        f"  problem: {SHARD}: a FIFO, not a regular file; not read", "1 problem(s)"]
    done = _publish(source, copy, "--part", PART)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"part 1 of 1: {PART}: building"
    assert not shard.is_symlink() and shard.is_file() and shard.read_bytes() == data
    outside = tmp_path / "outside.parquet"
    shutil.copy(copy / TRAIN_SHARD, outside)
    (copy / TRAIN_SHARD).unlink()
    (copy / TRAIN_SHARD).symlink_to(outside)
    done = _publish(source, copy, "--part", PART)
    assert done.returncode == 0 and done.stdout.splitlines()[0] == f"part 1 of 1: {PART}: building"
    assert not (copy / TRAIN_SHARD).is_symlink() and outside.read_bytes() == (copy / TRAIN_SHARD).read_bytes()


def test_a_copy_whose_data_is_a_link_out_is_refused_without_walking_it(copy, source, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(copy / "data")
    (copy / "data").symlink_to(outside)
    done = _cli("verify-copy", str(copy), "--no-progress")
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error: {copy}/data is a link to {outside}: not a copy made by publish "
                                   f"(links are not followed)")
    done = _publish(source, copy, "--part", PART)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error: {copy}: data is a link to {outside}, not a folder genimage-cl wrote; a run "
                                   f"never writes through a link: remove it or choose another output folder")
    assert _publish(source, copy).stderr.strip() == _foreign(copy, "data")
    assert list(outside.iterdir()) == []


def test_links_inside_the_copy_are_named_and_not_followed(copy, source, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(copy / TRAIN_SHARD, outside / "train-00000-of-00001.parquet")
    (copy / TRAIN_SHARD).unlink()
    (copy / TRAIN_SHARD).symlink_to(outside / "train-00000-of-00001.parquet")
    (copy / "data/adm").symlink_to(outside)
    printed = _cli("verify-copy", str(copy), "--no-progress").stdout.splitlines()
    assert printed == [
        f"{copy}: 1 shard(s) intact, {printed[0].split(', ')[1]}",
        f"  note: no README.md in {copy}: page checksums checked, row counts not compared with a card",
        f"  problem: data/adm: a link to {outside}; not followed",
        f"  problem: {TRAIN_SHARD}: a link to {outside}/train-00000-of-00001.parquet; not followed",
        "2 problem(s)",
    ]
    assert _publish(source, copy).stderr.strip() == _foreign(copy, "data/adm")
