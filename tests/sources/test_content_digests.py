"""A change of metadata only (a new hard link, chmod, chown) keeps the cache; a same-size, same-mtime repair
does not. The README's ``export-imagefolder --layout source --image-size original`` hard-links every source
file, which moved every change time and made the next build or publish rebuild the whole generator."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conversion import cli
from conversion.contract import tables
from conversion.samples import genimage_tree
from conversion.sources import content_digests, kinds, raw_tree
from genimage_cl import GenImageCL

GENERATOR = "vqdm"


@pytest.fixture
def tree(tmp_path):
    return genimage_tree.make_sample_tree(tmp_path / "GenImage", generators=[GENERATOR], classes_per_task=1)


def files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*") if p.is_file())


def build(tree: Path, cache: Path):
    builder = GenImageCL(config_name=GENERATOR, data_dir=str(tree), cache_dir=str(cache))
    builder.download_and_prepare()
    return builder.cache_dir, builder.as_dataset()


def fingerprint(tree: Path) -> str:
    """The fingerprint publish compares its parts with (the builder adds the same one to its cache key)."""
    return kinds.open_source(tree, [GENERATOR]).fingerprint()


def not_rebuilt(monkeypatch):
    monkeypatch.setattr(raw_tree, "examples", lambda *a, **k: pytest.fail("rebuilt a tree whose bytes did not change"))


def test_hard_links_chmod_and_chown_keep_the_cache(tree, tmp_path, monkeypatch):
    first_dir, _ = build(tree, tmp_path / "cache")
    first = fingerprint(tree)
    links = tmp_path / "links"
    links.mkdir()
    for number, path in enumerate(files(tree)):
        before = os.stat(path).st_ctime_ns
        os.link(path, links / f"{number}{path.suffix}")
        path.chmod(0o600)
        os.chown(path, os.getuid(), os.getgid())
        assert os.stat(path).st_ctime_ns != before
    with monkeypatch.context() as m:
        not_rebuilt(m)
        assert fingerprint(tree) == first
        assert build(tree, tmp_path / "cache")[0] == first_dir


def test_the_readmes_source_export_keeps_the_cache(tree, tmp_path, monkeypatch):
    first = fingerprint(tree)
    build(tree, tmp_path / "cache")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export-imagefolder", "--data-dir", str(tree), "--config", GENERATOR, "--layout", "source",
                  "--image-size", "original", "--files", "link", "--out", str(tmp_path / "export"), "--no-progress"])
    assert exit_.value.code == 0
    assert any(os.stat(p).st_nlink > 1 for p in files(tree))
    not_rebuilt(monkeypatch)
    assert fingerprint(tree) == first


def repair_in_place(path: Path) -> None:
    """``cp -p`` of a repaired copy: same inode, size and modification time, other bytes."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-20] ^= 0xFF  # inside the last IDAT's CRC
    with open(path, "r+b") as f:
        f.write(data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("built_between", [True, False])
def test_a_same_size_repair_after_a_metadata_change_is_rebuilt(tree, tmp_path, monkeypatch, built_between):
    first_dir, first = build(tree, tmp_path / "cache")
    folder = genimage_tree.generator_folder(tree, tables.generators()[GENERATOR], "nested") / "train" / "ai"
    name = sorted(n for n in first["train"]["file_name"] if (folder / n).exists())[0]
    for path in files(tree):
        path.chmod(0o640)
    if built_between:
        with monkeypatch.context() as m:
            not_rebuilt(m)
            assert build(tree, tmp_path / "cache")[0] == first_dir
    repair_in_place(folder / name)
    repaired_dir, rebuilt = build(tree, tmp_path / "cache")
    assert repaired_dir != first_dir
    assert name not in rebuilt["train"]["file_name"]  # its broken CRC is now seen, not the old build's copy


def test_a_file_replaced_by_the_same_bytes_keeps_the_cache(tree, tmp_path, monkeypatch):
    """``rsync -t`` of an unchanged file writes a new inode with the same bytes, size and modification time."""
    first_dir, _ = build(tree, tmp_path / "cache")
    path = files(tree)[0]
    stat, data = path.stat(), path.read_bytes()
    replacement = path.with_name(".rsync-tmp")
    replacement.write_bytes(data)
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, path)
    not_rebuilt(monkeypatch)
    assert build(tree, tmp_path / "cache")[0] == first_dir


def store_folder(tree: Path) -> Path:
    real = os.path.realpath(genimage_tree.generator_folder(tree, tables.generators()[GENERATOR], "nested"))
    return content_digests.store_folder(real)


def test_a_damaged_store_costs_a_rebuild_never_a_wrong_cache(tree, tmp_path, caplog):
    first_dir, _ = build(tree, tmp_path / "cache")
    fingerprint(tree)  # merges the build's notes into the store
    store = store_folder(tree) / content_digests.STORE_FILE
    json.loads(store.read_text())
    store.write_text('{"format": 1, "files": {"train/ai/x.png": "not a record"}}')
    for path in files(tree):
        path.chmod(0o640)
    assert build(tree, tmp_path / "cache")[0] != first_dir
    assert "ignored the content digests in" in caplog.text


def test_an_unwritable_store_never_stops_a_build(tree, tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv(content_digests.ROOT_VARIABLE, str(blocked))
    _, built = build(tree, tmp_path / "cache")
    assert len(built["train"]) > 0


def noted(tree: Path) -> set[str]:
    return set(json.loads((store_folder(tree) / content_digests.STORE_FILE).read_text())["files"])


def test_the_store_keeps_only_listed_files_and_a_bounded_number_of_folders(tmp_path, monkeypatch):
    monkeypatch.setattr(content_digests, "MAX_FOLDERS", 2)
    trees = [genimage_tree.make_sample_tree(tmp_path / f"t{i}" / "GenImage", generators=[GENERATOR],
                                          classes_per_task=1) for i in range(3)]
    build(trees[0], tmp_path / "cache")
    source = kinds.open_source(trees[0], [GENERATOR])
    parts = [(GENERATOR, task) for task in range(6)]
    names = {f"{split}/{tables.SOURCES[item.source]}/{item.file_name}" for split in ("train", "test")
             for item in source.split_plan(split, parts).items}
    assert noted(trees[0]) == names  # every file the build read, and only those
    removed = sorted(names)[0]
    split, source_folder, name = removed.split("/")
    folder = genimage_tree.generator_folder(trees[0], tables.generators()[GENERATOR], "nested")
    (folder / {"train": "train", "test": "val"}[split] / source_folder / name).unlink()
    fingerprint(trees[0])
    assert noted(trees[0]) == names - {removed}
    for tree in trees[1:]:
        build(tree, tmp_path / "cache")
        fingerprint(tree)
    assert not store_folder(trees[0]).exists()  # the least recently scanned beyond MAX_FOLDERS
    assert noted(trees[1]) and noted(trees[2])


def test_files_are_compared_outside_the_lock(tree, tmp_path, monkeypatch):
    """A scan that must read much of the tree (after an export) never makes other scans or builds wait for it."""
    from filelock import FileLock

    build(tree, tmp_path / "cache")
    first = fingerprint(tree)
    for path in files(tree):
        path.chmod(0o640)
    lock_path = store_folder(tree) / content_digests.LOCK_FILE
    read_limited, reads = raw_tree.decode.read_limited, []

    def read_unlocked(path, folders=()):
        with FileLock(str(lock_path), timeout=0):  # raises if the scan holds the lock while reading
            reads.append(path)
        return read_limited(path, folders)

    monkeypatch.setattr(raw_tree.decode, "read_limited", read_unlocked)
    assert fingerprint(tree) == first and reads


def test_concurrent_scans_agree(tree, tmp_path):
    import threading

    build(tree, tmp_path / "cache")
    first = fingerprint(tree)
    for path in files(tree):
        path.chmod(0o640)
    results = []
    threads = [threading.Thread(target=lambda: results.append(fingerprint(tree))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [first] * 4
    json.loads((store_folder(tree) / content_digests.STORE_FILE).read_text())


def test_publish_keeps_its_parts_after_a_metadata_change(tree, tmp_path):
    from conversion.hub_copy import publish

    wanted = [(GENERATOR, task) for task in range(6)]
    publish.ensure_parts(kinds.open_source(tree), tmp_path / "out", wanted, 500 * 2**20, log=lambda line: None)
    for number, path in enumerate(files(tree)):
        os.link(path, tmp_path / f"link{number}")
        path.chmod(0o640)
    lines = []
    publish.ensure_parts(kinds.open_source(tree), tmp_path / "out", wanted, 500 * 2**20, log=lines.append)
    assert len(lines) == len(wanted) and all(line.endswith("kept") for line in lines), lines
