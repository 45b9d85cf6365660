"""A killed build leaves nothing that loads as complete, and re-running finishes it; a changed
source tree is never served from the cache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import datasets
import pytest

from conversion.builder import build_report
from conversion.samples import genimage_tree
from conversion.sources import raw_tree
from genimage_cl import GenImageCL

ROOT = Path(__file__).resolve().parents[2]

SLOW_BUILD = textwrap.dedent(
    """
    import sys, time
    from conversion.builder import genimage_cl
    from conversion.pixels import decode

    convert = decode.convert

    def slow_convert(*args, **kwargs):
        time.sleep(0.05)
        return convert(*args, **kwargs)

    decode.convert = slow_convert
    genimage_cl._ITEMS_PER_SHARD = 3
    builder = genimage_cl.GenImageCL(config_name="sdv14", data_dir=sys.argv[1], cache_dir=sys.argv[2])
    builder.download_and_prepare(num_proc=2)
    """
)


@pytest.fixture(scope="module")
def small_tree(tmp_path_factory):
    return genimage_tree.make_sample_tree(tmp_path_factory.mktemp("kill") / "GenImage", generators=["sdv14"])


def rows(dataset):
    """{split: [(file_name, stored image bytes)]} in row order."""
    raw = {split: ds.cast_column("image", datasets.Image(decode=False)) for split, ds in dataset.items()}
    return {split: [(name, image["bytes"]) for name, image in zip(ds["file_name"], ds["image"])]
            for split, ds in raw.items()}


def test_killed_build_is_not_complete_and_rerun_finishes(small_tree, tmp_path):
    cache = tmp_path / "cache"
    target = Path(GenImageCL(config_name="sdv14", data_dir=str(small_tree), cache_dir=str(cache)).cache_dir)
    incomplete = Path(str(target) + ".incomplete")
    process = subprocess.Popen([sys.executable, "-c", SLOW_BUILD, str(small_tree), str(cache)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (incomplete.is_dir() and any(incomplete.glob("*.arrow"))):
            assert process.poll() is None, "the build ended before it could be killed"
            assert time.monotonic() < deadline, "the build never started writing"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert not target.exists() and incomplete.is_dir()

    builder = GenImageCL(config_name="sdv14", data_dir=str(small_tree), cache_dir=str(cache))
    with pytest.raises(FileNotFoundError):
        builder.as_dataset()  # nothing loads as if complete
    builder.download_and_prepare()
    resumed = builder.as_dataset()
    assert not incomplete.exists()
    assert not [p.name for p in target.iterdir() if "NNNNN" in p.name or p.name == build_report.PARTS_DIR]

    fresh = GenImageCL(config_name="sdv14", data_dir=str(small_tree), cache_dir=str(tmp_path / "fresh"))
    fresh.download_and_prepare()
    assert rows(resumed) == rows(fresh.as_dataset())
    assert build_report.load(target / build_report.REPORT_FILE)["totals"] == build_report.load(
        Path(fresh.cache_dir) / build_report.REPORT_FILE)["totals"]


def build(tree, cache):
    builder = GenImageCL(config_name="vqdm", data_dir=str(tree), cache_dir=str(cache))
    builder.download_and_prepare()
    return builder.cache_dir, builder.as_dataset()


def test_changed_tree_is_never_served_from_the_cache(tmp_path, monkeypatch):
    tree = genimage_tree.make_sample_tree(tmp_path / "GenImage", generators=["vqdm"], classes_per_task=1)
    cache = tmp_path / "cache"
    folder = genimage_tree.generator_folder(tree, genimage_tree.tables.generators()["vqdm"], "nested") / "train" / "ai"
    first_dir, first = build(tree, cache)
    names = sorted(n for n in first["train"]["file_name"] if (folder / n).exists())

    with monkeypatch.context() as m:  # an unchanged tree is served from the cache, without converting
        m.setattr(raw_tree, "examples", lambda *a, **k: pytest.fail("rebuilt an unchanged tree"))
        assert build(tree, cache)[0] == first_dir

    seen = {first_dir}
    victim = names[0]
    (folder / "VQDM_1000_200_00_350_vqdm_00777.png").write_bytes((folder / victim).read_bytes())
    added_dir, added = build(tree, cache)
    assert added_dir not in seen and "VQDM_1000_200_00_350_vqdm_00777.png" in added["train"]["file_name"]
    seen.add(added_dir)

    (folder / "VQDM_1000_200_00_350_vqdm_00777.png").unlink()
    removed = folder / victim
    data, stat = removed.read_bytes(), removed.stat()
    removed.unlink()
    removed_dir, after_removal = build(tree, cache)
    assert removed_dir not in seen and victim not in after_removal["train"]["file_name"]
    seen.add(removed_dir)

    removed.write_bytes(data)
    os.utime(removed, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    restored_dir, _ = build(tree, cache)
    assert restored_dir not in seen  # same name, size and mtime, but written again (new ctime, inode): rebuilt
    seen.add(restored_dir)

    os.utime(removed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    touched_dir, _ = build(tree, cache)
    assert touched_dir not in seen  # same names and bytes, but a new modification time
    seen.add(touched_dir)

    other = next(folder / n for n in names if n != victim)
    other.write_bytes(data)  # same name, other content
    modified_dir, modified = build(tree, cache)
    assert modified_dir not in seen
    by_name = dict(rows(modified)["train"])
    assert by_name[other.name] == by_name[victim]
    assert by_name[other.name] != dict(rows(first)["train"])[other.name]


def test_a_repair_that_keeps_size_and_mtime_is_rebuilt(tmp_path):
    """``unzip -o`` of a fixed zip, ``cp -p``, ``rsync -t``: same name, size and mtime, new bytes."""
    tree = genimage_tree.make_sample_tree(tmp_path / "GenImage", generators=["vqdm"], classes_per_task=1)
    cache = tmp_path / "cache"
    folder = genimage_tree.generator_folder(tree, genimage_tree.tables.generators()["vqdm"], "nested") / "train" / "ai"
    first_dir, first = build(tree, cache)
    name = sorted(n for n in first["train"]["file_name"] if (folder / n).exists())[0]
    path = folder / name
    stat = path.stat()
    repaired = bytearray(path.read_bytes())
    repaired[-20] ^= 0xFF  # inside the last IDAT's CRC: same size, the image decodes differently or not at all
    with open(path, "r+b") as f:  # rewritten in place, as unzip -o does: same inode
        f.write(repaired)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    repaired_dir, rebuilt = build(tree, cache)
    assert repaired_dir != first_dir
    assert name not in rebuilt["train"]["file_name"]  # its broken CRC is now seen, not the old build's copy
