"""verify-copy and assemble read only regular files inside the copy: no FIFO blocks them, no link leads out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conversion.hub_copy import jobs

ROOT = Path(__file__).resolve().parents[2]
JOB = jobs.Job("sdv14", 3, "test")
SHARD = "data/sdv14/task3/test-00000-of-00001.parquet"


@pytest.fixture(scope="module")
def built(sample_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "copy"
    jobs.run_job(JOB, sample_root, out)
    return out


@pytest.fixture
def copy(built, tmp_path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(built, out)
    return out


def _cli(*args: str) -> subprocess.CompletedProcess:
    """The command run in its own process, so that a reader blocked on a FIFO fails the test instead of hanging it."""
    return subprocess.run([sys.executable, "-m", "conversion", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_a_fifo_in_the_copy_is_a_problem_not_a_hang(copy):
    os.mkfifo(copy / "data/sdv14/task3/x.parquet")
    done = _cli("verify-copy", str(copy), "--no-progress")
    assert done.returncode == 1, done.stderr
    assert "  problem: data/sdv14/task3/x.parquet: a FIFO, not a regular file; not read\n" in done.stdout
    assert done.stdout.startswith(f"{copy}: 1 shard(s) intact")
    done = _cli("assemble", "--out", str(copy))
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {copy}/data/sdv14/task3/x.parquet: a FIFO, not a regular file; not read"
    os.mkfifo(copy / "README.md")
    done = _cli("verify-copy", str(copy), "--no-progress")
    assert f"  problem: {copy}/README.md: a FIFO, not a regular file; not read\n" in done.stdout


def test_a_fifo_named_like_a_shard_or_job_file_blocks_nothing(copy):
    shard = copy / SHARD
    data = shard.read_bytes()
    shard.unlink()
    os.mkfifo(shard)
    assert _cli("verify-copy", str(copy), "--no-progress").stdout.splitlines()[2:] == [
        f"  problem: {SHARD}: a FIFO, not a regular file; not read", "1 problem(s)"]
    assert _cli("assemble", "--out", str(copy)).stderr.strip() == (
        f"error: {shard}: a FIFO, not a regular file; not read")
    shard.unlink()
    shard.write_bytes(data)
    report = jobs.report_folder(copy, JOB) / jobs.JOB_FILE
    report.unlink()
    os.mkfifo(report)
    done = _cli("assemble", "--out", str(copy))
    assert done.returncode == 0, done.stderr
    assert jobs.image_size_of(copy, JOB) is None


def test_a_copy_whose_data_is_a_link_out_is_refused_without_walking_it(copy, tmp_path):
    shutil.rmtree(copy / "data")
    (copy / "data").symlink_to("/")
    done = _cli("verify-copy", str(copy), "--no-progress")
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error: {copy}/data is a link to /: not a copy made by publish or build "
                                   f"(links are not followed)")
    done = _cli("assemble", "--out", str(copy))
    assert done.stderr.strip() == f"error: {copy}/data: a link to /, not the output's own folder; not followed"


def test_links_inside_the_copy_are_named_and_not_followed(copy, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(copy / SHARD, outside / "train-00000-of-00001.parquet")
    (copy / "data/sdv14/task3/train-00000-of-00001.parquet").symlink_to(outside / "train-00000-of-00001.parquet")
    (copy / "data/adm").symlink_to(outside)
    printed = _cli("verify-copy", str(copy), "--no-progress").stdout.splitlines()
    assert printed == [
        f"{copy}: 1 shard(s) intact, {printed[0].split(', ')[1]}",
        f"  note: no README.md in {copy}: page checksums checked, row counts not compared with a card",
        f"  problem: data/adm: a link to {outside}; not followed",
        f"  problem: data/sdv14/task3/train-00000-of-00001.parquet: a link to {outside}/train-00000-of-00001.parquet; "
        f"not followed",
        "2 problem(s)",
    ]
    assert _cli("assemble", "--out", str(copy)).stderr.strip() == (
        f"error: {copy}/data/adm: a link to {outside}, where build jobs write folders and shards; not followed")
