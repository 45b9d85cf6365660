"""export-imagefolder: layouts, task and source selection, hard links, resume, checked against imagefolder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import datasets
import pytest

from conversion import cli, imagefolder, tables
from conversion.commands import export_imagefolder
from conversion.sample_tree import make_sample_tree


def _export(*args) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export-imagefolder", "--no-progress", *map(str, args)])
    assert exit_.value.code == 0


def _images(out: Path) -> list[Path]:
    """The exported files (not the export's record of itself)."""
    return sorted(p for p in out.rglob("*") if p.is_file() and p.name != export_imagefolder.MARKER)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rows(dataset) -> list[tuple[str, str, str]]:
    """(split folder name, file stem, sha256 of bytes) of built rows, images undecoded."""
    raw = dataset.cast_column("image", datasets.Image(decode=False))
    return [(tables.wnids()[r["label"]], r["file_name"].rsplit(".", 1)[0], _digest(r["image"]["bytes"])) for r in raw]


def _imagefolder(out: Path, split: str) -> list[tuple[str, str, str]]:
    loaded = datasets.load_dataset("imagefolder", data_dir=str(out), split=split, cache_dir=str(out.parent / "hf"))
    names = loaded.features["label"].names
    raw = loaded.cast_column("image", datasets.Image(decode=False))
    return [(names[r["label"]], Path(r["image"]["path"]).stem, _digest(Path(r["image"]["path"]).read_bytes()))
            for r in raw]


def test_class_layout_loads_back_with_imagefolder(sample_root, build, tmp_path):
    out = tmp_path / "sdv14"
    _export("--data-dir", sample_root, "--config", "sdv14", "--out", out, "--cache-dir", tmp_path / "cache")
    ds = build("sdv14", sample_root)
    for split in ("train", "test"):
        assert sorted(_imagefolder(out, split)) == sorted(_rows(ds[split]))
    assert all(p.suffix == ".png" for p in _images(out))


def test_source_layout_one_task_one_source(sample_root, build, tmp_path):
    out = tmp_path / "detect"
    _export("--data-dir", sample_root, "--config", "sdv14", "--task", 1, "--source", "ai", "--layout", "source",
            "--split", "train", "--out", out, "--cache-dir", tmp_path / "cache")
    assert sorted(p.name for p in out.iterdir()) == [export_imagefolder.MARKER, "train"]
    assert sorted(p.name for p in (out / "train").iterdir()) == ["1_ai"]
    train = build("sdv14", sample_root)["train"]
    expected = {r["file_name"].rsplit(".", 1)[0] for r in train.select_columns(["file_name", "task", "source"])
                if r["task"] == 1 and r["source"] == 1}
    assert {p.stem for p in (out / "train" / "1_ai").iterdir()} == expected and expected


def test_original_size_links_the_source_files(sample_root, tmp_path):
    out = tmp_path / "original"
    _export("--data-dir", sample_root, "--config", "disjoint", "--image-size", "original", "--layout", "source",
            "--out", out)
    files = _images(out)
    inodes = {(p.stat().st_dev, p.stat().st_ino) for p in sample_root.rglob("*") if p.is_file()}
    assert files and all((f.stat().st_dev, f.stat().st_ino) in inodes for f in files)
    loaded = _imagefolder(out, "train")
    assert {folder for folder, _, _ in loaded} == {"0_nature", "1_ai"}
    assert len(loaded) == len(list((out / "train").rglob("*.*")))


def test_source_layout_labels_follow_the_source_column(sample_root, build, tmp_path):
    """ImageFolder loaders sort folder names: label 0 must be nature and 1 ai, as the ``source`` column."""
    out = tmp_path / "detect"
    _export("--data-dir", sample_root, "--config", "sdv14-task2", "--layout", "source", "--split", "test",
            "--out", out, "--cache-dir", tmp_path / "cache")
    loaded = datasets.load_dataset("imagefolder", data_dir=str(out), split="test", cache_dir=str(tmp_path / "hf"))
    assert loaded.features["label"].names == ["0_nature", "1_ai"]
    source_of = {Path(p["path"]).stem: label for p, label in
                 zip(loaded.cast_column("image", datasets.Image(decode=False))["image"], loaded["label"])}
    built = build("sdv14-task2", sample_root)["test"]
    assert source_of == {name.rsplit(".", 1)[0]: s for name, s in zip(built["file_name"], built["source"])}
    assert sorted(set(source_of.values())) == [0, 1]


def _export_error(capsys, *args) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export-imagefolder", "--no-progress", *map(str, args)])
    assert exit_.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    return lines[0]


def test_arguments_and_out_are_checked_before_any_work(sample_root, tmp_path, capsys):
    cache = tmp_path / "cache"
    base = ("--data-dir", sample_root, "--cache-dir", cache)
    assert _export_error(capsys, *base, "--config", "sdv14-task3", "--task", 2, "--out", tmp_path / "a") == (
        "error: --task 2 is not a task of sdv14-task3 (its tasks: 3)")
    assert _export_error(capsys, *base, "--config", "sdv14", "--task", 7, "--out", tmp_path / "a").startswith(
        "error: --task 7 is not a task of sdv14")
    (tmp_path / "file").write_text("x")
    assert _export_error(capsys, *base, "--config", "sdv14", "--out", tmp_path / "file") == (
        f"error: --out {tmp_path / 'file'} is a file, not a folder")
    assert "cannot be created or written: Not a directory" in _export_error(
        capsys, *base, "--config", "sdv14", "--out", tmp_path / "file" / "sub")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    assert _export_error(capsys, *base, "--config", "sdv14", "--out", tmp_path / "home") == (
        f"error: --out {tmp_path / 'home'} is not empty: it holds other files; choose an empty folder, or pass "
        f"--merge to add this export to it")
    assert not cache.exists() and not (tmp_path / "a").exists()  # nothing was built
    _export(*base, "--config", "sdv14-task3", "--out", tmp_path / "home", "--merge")
    assert (tmp_path / "home" / "notes.txt").read_text() == "mine" and (tmp_path / "home" / "train").is_dir()
    _export(*base, "--config", "sdv14-task3", "--out", tmp_path / "home")  # the same export resumes
    assert "holds another export" in _export_error(capsys, *base, "--config", "sdv14-task0", "--out",
                                                   tmp_path / "home")


def test_copy_mode_copies(sample_root, tmp_path):
    out = tmp_path / "copied"
    _export("--data-dir", sample_root, "--config", "adm-task0", "--image-size", "original", "--files", "copy",
            "--out", out)
    files = _images(out)
    assert files and all(p.stat().st_nlink == 1 for p in files)


def test_rerun_resumes(sample_root, tmp_path, capsys):
    out = tmp_path / "resume"
    args = ("--data-dir", sample_root, "--config", "sdv14-task0", "--out", out, "--cache-dir", tmp_path / "cache")
    _export(*args)
    files = _images(out)
    removed = files[0]
    content = removed.read_bytes()
    removed.unlink()
    imagefolder._part(removed).write_bytes(b"partial")  # left behind by an interrupted run
    capsys.readouterr()
    _export(*args)
    printed = capsys.readouterr().out
    assert f"files: {len(files) - 1} kept, 1 written" in printed
    assert removed.read_bytes() == content and not imagefolder._part(removed).exists()


def test_unreadable_source_files_are_skipped_and_listed(tmp_path):
    root = make_sample_tree(tmp_path / "GenImage", generators=["sdv14"])
    ai = sorted((root / "stable_diffusion_v_1_4" / "imagenet_ai_0419_sdv4" / "train" / "ai").iterdir())
    task0 = [p for p in ai if tables.task_of_label().get(int(p.name.split("_")[0]), (None,))[0] == 0]
    broken = task0[0]
    broken.write_bytes(broken.read_bytes()[:200])
    nature = root / "stable_diffusion_v_1_4" / "imagenet_ai_0419_sdv4" / "train" / "nature"
    truncated_jpeg = nature / f"{tables.wnids()[tables.task_classes()[0][0]]}_1.JPEG"
    truncated_jpeg.write_bytes(truncated_jpeg.read_bytes()[:-2000])
    out = tmp_path / "out"
    _export("--data-dir", root, "--config", "sdv14-task0", "--image-size", "original", "--split", "train",
            "--out", out)
    listed = (out / "skipped.txt").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in listed) == sorted([str(broken), str(truncated_jpeg)])
    assert not list(out.rglob(broken.name)) and not list(out.rglob(truncated_jpeg.name))


def test_file_names_are_single_safe_components():
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 8
    jpeg = b"\xff\xd8\xff\xe0" + b"\0" * 8
    assert imagefolder.file_name_for("n01440764_1.JPEG", png) == "n01440764_1.png"
    assert imagefolder.file_name_for("n01440764_1.JPEG", jpeg) == "n01440764_1.JPEG"
    assert imagefolder.file_name_for("115_adm_141.PNG", png) == "115_adm_141.PNG"
    assert imagefolder.file_name_for("sdv14/task0/train/ai/17", png) == "sdv14_task0_train_ai_17.png"
    assert imagefolder.file_name_for("../../etc/passwd", png) == "etc_passwd.png"


def test_hard_links_are_refused_for_built_pixels(sample_root, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export-imagefolder", "--data-dir", str(sample_root), "--config", "sdv14", "--files", "link",
                  "--out", str(tmp_path / "x")])
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --files link needs --image-size original and a raw GenImage tree as --data-dir"]
