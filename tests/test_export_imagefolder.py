"""export-imagefolder: layouts, task and source selection, hard links, resume, checked against imagefolder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import datasets
import pytest

from conversion import cli, imagefolder, tables
from conversion.sample_tree import make_sample_tree


def _export(*args) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export-imagefolder", "--no-progress", *map(str, args)])
    assert exit_.value.code == 0


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
    assert all(p.suffix == ".png" for p in out.rglob("*") if p.is_file())


def test_source_layout_one_task_one_source(sample_root, build, tmp_path):
    out = tmp_path / "detect"
    _export("--data-dir", sample_root, "--config", "sdv14", "--task", 1, "--source", "ai", "--layout", "source",
            "--split", "train", "--out", out, "--cache-dir", tmp_path / "cache")
    assert sorted(p.name for p in out.iterdir()) == ["train"]
    assert sorted(p.name for p in (out / "train").iterdir()) == ["ai"]
    train = build("sdv14", sample_root)["train"]
    expected = {r["file_name"].rsplit(".", 1)[0] for r in train.select_columns(["file_name", "task", "source"])
                if r["task"] == 1 and r["source"] == 1}
    assert {p.stem for p in (out / "train" / "ai").iterdir()} == expected and expected


def test_original_size_links_the_source_files(sample_root, tmp_path):
    out = tmp_path / "original"
    _export("--data-dir", sample_root, "--config", "disjoint", "--image-size", "original", "--layout", "source",
            "--out", out)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    inodes = {(p.stat().st_dev, p.stat().st_ino) for p in sample_root.rglob("*") if p.is_file()}
    assert files and all((f.stat().st_dev, f.stat().st_ino) in inodes for f in files)
    loaded = _imagefolder(out, "train")
    assert {folder for folder, _, _ in loaded} == {"ai", "nature"}
    assert len(loaded) == len(list((out / "train").rglob("*.*")))


def test_copy_mode_copies(sample_root, tmp_path):
    out = tmp_path / "copied"
    _export("--data-dir", sample_root, "--config", "adm-task0", "--image-size", "original", "--files", "copy",
            "--out", out)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and all(p.stat().st_nlink == 1 for p in files)


def test_rerun_resumes(sample_root, tmp_path, capsys):
    out = tmp_path / "resume"
    args = ("--data-dir", sample_root, "--config", "sdv14-task0", "--out", out, "--cache-dir", tmp_path / "cache")
    _export(*args)
    files = sorted(p for p in out.rglob("*") if p.is_file())
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
