"""export-imagefolder: layouts, task and source selection, hard links, resume, checked against imagefolder."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import datasets
import pytest

from conversion import atomic_files, cli, folder_lock
from conversion.commands import export_imagefolder
from conversion.contract import tables
from conversion.samples.genimage_tree import make_sample_tree
from conversion.uses import imagefolder
from tests.helpers import leftover_temporaries
from tests.lock_holder import hold_lock


def _export(*args) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["export-imagefolder", "--no-progress", *map(str, args)])
    assert exit_.value.code == 0


def _images(out: Path) -> list[Path]:
    """The exported files (not the export's record of itself, its metadata files, nor its lock)."""
    return sorted(p for p in out.rglob("*") if p.is_file()
                  and p.name not in (export_imagefolder.MARKER, imagefolder.METADATA_FILE)
                  and folder_lock.STATE_DIR not in p.relative_to(out).parts)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rows(dataset) -> list[tuple[str, str, str]]:
    """(split folder name, file stem, sha256 of bytes) of built rows, images undecoded."""
    raw = dataset.cast_column("image", datasets.Image(decode=False))
    return [(tables.wnids()[r["label"]], r["file_name"].rsplit(".", 1)[0], _digest(r["image"]["bytes"])) for r in raw]


def _imagefolder(out: Path, split: str) -> list[tuple[str, str, str]]:
    loaded = datasets.load_dataset("imagefolder", data_dir=str(out), split=split, cache_dir=str(out.parent / "hf"))
    # folder labels (source layout), or the standard label from the class layout's metadata.jsonl
    names = getattr(loaded.features["label"], "names", tables.wnids())
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


def _project_columns(rows) -> list[tuple]:
    """(file stem, label, task_label, source, generator, task) of rows, sorted."""
    return sorted((Path(r["file_name"] if "file_name" in r else r["image"]["path"]).stem,
                   *(r[c] for c in imagefolder.METADATA_COLUMNS)) for r in rows)


@pytest.mark.parametrize("size", ["64", "original"])
def test_class_layout_metadata_gives_the_project_columns(sample_root, build, tmp_path, size):
    out = tmp_path / "sdv14"
    _export("--data-dir", sample_root, "--config", "sdv14", "--image-size", size, "--out", out,
            "--cache-dir", tmp_path / "cache")
    ds = build("sdv14", sample_root)
    for split in ("train", "test"):
        loaded = datasets.load_dataset("imagefolder", data_dir=str(out), split=split, cache_dir=str(tmp_path / "hf"))
        assert set(loaded.column_names) == {"image", *imagefolder.METADATA_COLUMNS}
        raw = loaded.cast_column("image", datasets.Image(decode=False))
        assert _project_columns(raw) == _project_columns(ds[split].remove_columns("image")) and len(raw)


def test_merged_class_exports_keep_both_metadata_rows(sample_root, build, tmp_path):
    out = tmp_path / "merged"
    base = ("--data-dir", sample_root, "--split", "train", "--out", out, "--cache-dir", tmp_path / "cache")
    _export(*base, "--config", "sdv14-task0")
    _export(*base, "--config", "sdv14-task3", "--merge")
    lines = (out / "train" / imagefolder.METADATA_FILE).read_text().splitlines()
    train = build("sdv14", sample_root)["train"]
    assert len(lines) == sum(1 for task in train["task"] if task in (0, 3)) == len(_images(out))
    assert {json.loads(line)["task"] for line in lines} == {0, 3}


def test_source_layout_one_task_one_source(sample_root, build, tmp_path):
    out = tmp_path / "detect"
    _export("--data-dir", sample_root, "--config", "sdv14", "--task", 1, "--source", "ai", "--layout", "source",
            "--split", "train", "--out", out, "--cache-dir", tmp_path / "cache")
    assert sorted(p.name for p in out.iterdir()) == [export_imagefolder.MARKER, folder_lock.STATE_DIR, "train"]
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
    atomic_files.temporary_path(removed).write_bytes(b"partial")  # left behind by an interrupted run
    capsys.readouterr()
    _export(*args)
    printed = capsys.readouterr().out
    assert f"files: {len(files) - 1} kept, 1 written" in printed
    assert removed.read_bytes() == content and not atomic_files.temporary_path(removed).exists()


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


def _sdv14_tree(tmp_path: Path) -> Path:
    return make_sample_tree(tmp_path / "GenImage", generators=["sdv14"])


def _train_ai(root: Path, task: int = 0) -> list[Path]:
    """sdv14's train AI files of ``task``, sorted."""
    folder = root / "stable_diffusion_v_1_4" / "imagenet_ai_0419_sdv4" / "train" / "ai"
    return [p for p in sorted(folder.iterdir())
            if tables.task_of_label().get(int(p.name.split("_")[0]), (None,))[0] == task]


def _same_size_pngs(path: Path) -> tuple[bytes, bytes]:
    """Two valid PNGs of the same byte size whose pixels differ: ``path``'s image, then with one pixel changed
    (the shorter one padded with a text chunk)."""
    import io

    from PIL import Image, PngImagePlugin

    with Image.open(path) as image:
        image = image.convert("RGB")
    changed = image.copy()
    changed.putpixel((0, 0), tuple(255 - v for v in image.getpixel((0, 0))))

    def encoded(img, padding: int = 0) -> bytes:
        info = PngImagePlugin.PngInfo()
        info.add_text("pad", "x" * padding)
        buffer = io.BytesIO()
        img.save(buffer, format="PNG", pnginfo=info)
        return buffer.getvalue()

    first, second = encoded(image), encoded(changed)
    if len(first) < len(second):
        first = encoded(image, len(second) - len(first))
    else:
        second = encoded(changed, len(first) - len(second))
    assert len(first) == len(second) and first != second
    return first, second


def _rewrite_keeping_mtime(path: Path, data: bytes, new_inode: bool) -> None:
    """As ``cp -p`` (in place) or ``rsync -t`` (a new file renamed over it) would: same size, same mtime."""
    st = path.stat()
    if new_inode:
        tmp = path.with_name("rsync.tmp")
        tmp.write_bytes(data)
        os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, path)
    else:
        path.write_bytes(data)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


@pytest.mark.parametrize("files,new_inode", [("copy", False), ("copy", True), ("auto", True)],
                         ids=["copy-cp-p", "copy-rsync-t", "link-rsync-t"])
def test_a_same_size_repair_of_a_source_file_is_exported_again(tmp_path, capsys, files, new_inode):
    root = _sdv14_tree(tmp_path)
    source = _train_ai(root)[0]
    damaged, repaired = _same_size_pngs(source)
    source.write_bytes(damaged)
    out = tmp_path / "out"
    args = ("--data-dir", root, "--config", "sdv14-task0", "--image-size", "original", "--split", "train",
            "--layout", "source", "--files", files, "--out", out)
    _export(*args)
    (target,) = out.rglob(source.name)
    assert target.read_bytes() == damaged
    _rewrite_keeping_mtime(source, repaired, new_inode)
    capsys.readouterr()
    _export(*args)
    assert target.read_bytes() == repaired
    actions = {"kept": len(_images(out)) - 1, "copied" if files == "copy" else "linked": 1}
    assert "files: " + ", ".join(f"{n} {a}" for a, n in sorted(actions.items())) + ";" in capsys.readouterr().out


def test_a_copy_that_differs_from_its_built_image_is_written_again(sample_root, tmp_path, capsys):
    out = tmp_path / "out"
    args = ("--data-dir", sample_root, "--config", "sdv14-task0", "--split", "test", "--out", out,
            "--cache-dir", tmp_path / "cache")
    _export(*args)
    target = _images(out)[0]
    content = target.read_bytes()
    target.write_bytes(bytes(len(content)))  # same size, other bytes
    capsys.readouterr()
    _export(*args)
    assert target.read_bytes() == content
    assert f"files: {len(_images(out)) - 1} kept, 1 written" in capsys.readouterr().out


def test_a_255_byte_source_name_is_exported_and_kept_on_a_re_run(tmp_path, capsys):
    root = _sdv14_tree(tmp_path)
    source = _train_ai(root)[0]
    label = source.name.split("_")[0]
    longest = source.with_name(f"{label}_sdv4_" + "1" * (255 - len(f"{label}_sdv4_.png")) + ".png")
    assert len(os.fsencode(longest.name)) == 255
    source.rename(longest)
    out = tmp_path / "out"
    args = ("--data-dir", root, "--config", "sdv14-task0", "--image-size", "original", "--split", "train",
            "--files", "copy", "--out", out)
    _export(*args)
    (target,) = out.rglob(longest.name)
    assert target.read_bytes() == longest.read_bytes()
    capsys.readouterr()
    _export(*args)
    assert f"files: {len(_images(out))} kept;" in capsys.readouterr().out
    assert not leftover_temporaries(out)


def test_the_skip_list_is_the_last_runs_and_is_removed_when_nothing_is_skipped(tmp_path):
    root = _sdv14_tree(tmp_path)
    first, second = _train_ai(root)[:2]
    contents = {p: p.read_bytes() for p in (first, second)}
    out = tmp_path / "out"
    args = ("--data-dir", root, "--config", "sdv14-task0", "--image-size", "original", "--split", "train",
            "--out", out, "--files", "copy", "--layout", "source")

    def listed() -> list[str]:
        return [line.split("\t")[0] for line in (out / "skipped.txt").read_text().splitlines()]

    first.write_bytes(contents[first][:300])
    _export(*args)
    assert listed() == [str(first)]
    first.write_bytes(contents[first])
    second.write_bytes(contents[second][:300])
    _export(*args)
    assert listed() == [str(second)]
    assert (out / "train" / "1_ai" / first.name).read_bytes() == contents[first]
    second.write_bytes(contents[second])
    _export(*args)
    assert not (out / "skipped.txt").exists()


def test_a_second_export_into_the_same_out_fails_at_once_naming_the_first(sample_root, tmp_path, capsys):
    out = tmp_path / "out"
    holder = hold_lock(out, 60, "export")
    try:
        error = _export_error(capsys, "--data-dir", sample_root, "--config", "sdv14-task0", "--image-size",
                              "original", "--out", out)
    finally:
        holder.kill()
        holder.wait()
    assert error.startswith(f"error: {out} is being written by another export (pid {holder.pid} on ")
    assert error.endswith(": wait for it to finish, or pass --wait-lock to wait")
    assert not (out / "train").exists() and not (out / export_imagefolder.MARKER).exists()


def test_concurrent_exports_into_one_out_wait_for_each_other(sample_root, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-m", "conversion", "export-imagefolder", "--no-progress", "--wait-lock",
               "--data-dir", str(sample_root), "--config", "sdv14", "--image-size", "original", "--files", "copy",
               "--out", str(out)]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)]
    results = [(*run.communicate(), run.returncode) for run in runs]
    assert [code for _, _, code in results] == [0, 0, 0], [err for _, err, _ in results]
    assert sum("is being written by another export" in out for out, _, _ in results) >= 1
    alone = tmp_path / "alone"
    _export(*command[command.index("--data-dir"):-1], alone)
    assert [p.relative_to(out) for p in _images(out)] == [p.relative_to(alone) for p in _images(alone)]
    assert not leftover_temporaries(out)


def test_a_wrong_data_dir_writes_nothing_and_the_corrected_run_works(sample_root, tmp_path, capsys):
    out = tmp_path / "x2"
    for size in ("original", "64"):
        error = _export_error(capsys, "--data-dir", tmp_path / "GenImagee", "--config", "sdv14-task0",
                              "--image-size", size, "--out", out)
        assert error == f"error: data_dir {str(tmp_path / 'GenImagee')!r} is not a directory"
        assert not out.exists()
    out.mkdir()
    _export_error(capsys, "--data-dir", tmp_path / "GenImagee", "--config", "sdv14-task0", "--out", out)
    assert not any(out.iterdir())
    _export("--data-dir", sample_root, "--config", "sdv14-task0", "--image-size", "original", "--out", out)
    assert _images(out)


def test_an_out_inside_the_data_dir_or_the_data_dir_inside_the_out_is_refused(tmp_path, capsys):
    root = _sdv14_tree(tmp_path / "proj" / "data")
    inside = root / "export"
    error = _export_error(capsys, "--data-dir", root, "--config", "sdv14-task0", "--image-size", "original",
                          "--out", inside)
    assert error == (f"error: --out {inside} lies inside --data-dir {root}: give an --out outside the source")
    assert not inside.exists()
    project = tmp_path / "proj"
    error = _export_error(capsys, "--data-dir", root, "--config", "sdv14-task0", "--image-size", "original",
                          "--out", project, "--merge")
    assert error == (f"error: --data-dir {root} lies inside --out {project}: give an --out outside the source")
    assert sorted(p.name for p in project.iterdir()) == ["data"]


def test_a_source_export_lists_the_plans_skips_and_links_only_the_file_it_read(sample_root, tmp_path, monkeypatch):
    """A link out of the tree and a system file are skipped and listed in skipped.txt; a hard link is made
    to the very file that was read and checked."""
    import shutil

    root = tmp_path / "one"
    shutil.copytree(sample_root / "stable_diffusion_v_1_4", root / "stable_diffusion_v_1_4")
    ai = root / "stable_diffusion_v_1_4" / "imagenet_ai_0419_sdv4" / "val" / "ai"
    secret = tmp_path / "secret.png"
    secret.write_bytes((next(ai.glob("*.png"))).read_bytes())
    (ai / "249_sdv4_77.png").symlink_to(secret)
    (ai / ".DS_Store").write_bytes(b"\0")
    out = tmp_path / "exp"
    _export("--data-dir", root, "--config", "sdv14-task2", "--split", "test", "--source", "ai", "--layout", "source",
            "--image-size", "original", "--files", "link", "--out", out)
    listed = (out / imagefolder.SKIP_LIST).read_text().splitlines()
    assert f"{ai / '249_sdv4_77.png'}\toutside the tree: a link to a file outside data_dir and its generator folder" \
        in listed
    assert any(line.startswith(f"{ai / '.DS_Store'}\tsystem file") for line in listed)
    assert not any(os.path.samefile(p, secret) for p in _images(out))
    exported = [p for p in _images(out) if p.name != imagefolder.SKIP_LIST]
    assert exported and all(os.path.samefile(p, ai / p.name) for p in exported)
