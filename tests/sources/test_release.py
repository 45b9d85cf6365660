"""The tensor release as a build source: discovery, validation, bit-exact pixels, same rows as the raw tree."""

from __future__ import annotations

import collections
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conversion.contract import tables
from conversion.samples import tensor_release as release_writer
from conversion.sources import generator_folders, kinds, release


def _pair_folder(root: Path, generator: str, task: int, split: str, source: str) -> Path:
    return release_writer.release_folder(root, "original", generator, task, split, source)


def _copy_part(src_root: Path, dst_root: Path, generator: str, task: int) -> None:
    for split in ("train", "test"):
        for source in tables.SOURCES:
            src = _pair_folder(src_root, generator, task, split, source)
            shutil.copytree(src, _pair_folder(dst_root, generator, task, split, source))


def test_original_layout_is_discovered(sample_release):
    pairs = kinds.open_source(sample_release).pairs
    assert len(pairs) == 6 * 6 * 2 * 2
    assert {p.generator for p in pairs} == set(tables.task_order())
    assert {p.task for p in pairs} == set(range(6))
    assert {p.split for p in pairs} == {"train", "test"}
    pair = next(p for p in pairs if (p.generator, p.task, p.split, p.source) == ("sdv14", 3, "test", "nature"))
    assert pair.x_path.parts[-7:] == ("processedSingleGenerators", "stable_diffusion_v_1_4", "single_generator",
                                      "3", "val", "nature", "X.pt")
    assert kinds.open_source(sample_release).kind == kinds.RELEASE


def test_task_folder_agrees_with_class_sets(sample_release):
    source = kinds.open_source(sample_release, ["glide"])
    assert source.parts() == [("glide", t) for t in range(6)]
    for pair in source.pairs:
        _x, y = release.load_pair(pair)
        labels = release.standard_labels(pair, y)
        assert set(labels.tolist()) <= set(tables.task_classes()[pair.task])


@pytest.mark.parametrize("layout_name", ["keys", "named"])
def test_renamed_layouts_give_the_same_pairs(sample_root, sample_release, tmp_path, layout_name):
    other = release_writer.make_sample_release(sample_root, tmp_path / "r", layout=layout_name, generators=["sdv14"])
    found = {(p.generator, p.task, p.split, p.source): p for p in kinds.open_source(other).pairs}
    expected = {(p.generator, p.task, p.split, p.source): p for p in kinds.open_source(sample_release).pairs
                if p.generator == "sdv14"}
    assert found.keys() == expected.keys()
    for key, pair in found.items():
        assert torch.equal(torch.load(pair.y_path, weights_only=True),
                           torch.load(expected[key].y_path, weights_only=True))


def test_task_read_from_labels_when_no_task_folder(sample_release, tmp_path):
    """A single task saved as <Top>/<train|val>/<ai|nature>/X.pt: a release even though it looks like a tree."""
    root = tmp_path / "one"
    for split, folder in (("train", "train"), ("test", "val")):
        for source in tables.SOURCES:
            shutil.copytree(_pair_folder(sample_release, "sdv14", 3, split, source),
                            root / "stable_diffusion_v_1_4" / folder / source)
    assert generator_folders.find_generators(root)  # the raw-tree rule alone would match
    assert kinds.open_source(root).kind == kinds.RELEASE
    assert kinds.open_source(root).parts() == [("sdv14", 3)]


def test_release_rows_equal_raw_tree_rows(sample_root, sample_release, build):
    from_release = build("sdv14", sample_release)
    from_tree = build("sdv14", sample_root)
    for split in ("train", "test"):
        a, b = from_release[split], from_tree[split]
        for column in ("label", "task_label", "source", "generator", "task"):
            assert a[column] == b[column], column
        rows = list(zip(a["task"], a["source"], a["label"], a["file_name"]))
        assert rows == sorted(rows)
        assert all(release.is_release_name(n) and n.startswith("sdv14/task") for n in a["file_name"])

        def pixels(ds):
            return collections.Counter(
                (t, s, lab, np.asarray(im).tobytes())
                for t, s, lab, im in zip(ds["task"], ds["source"], ds["label"], ds["image"])
            )

        assert pixels(a) == pixels(b)


def test_release_rows_are_the_x_rows(sample_release, build):
    ds = build("sdv14-task2", sample_release)["train"]
    for row in ds:
        generator, task, split, source, index = row["file_name"].split("/")
        x = torch.load(_pair_folder(sample_release, generator, int(task[4:]), split, source) / "X.pt",
                       weights_only=True)[int(index)]
        image = torch.from_numpy(np.array(row["image"])).permute(2, 0, 1)
        assert torch.equal(release.normalize(image), x)


def test_uint8_inversion_is_exact_for_every_byte():
    u8 = torch.arange(256, dtype=torch.uint8).repeat(3, 1).view(1, 3, 16, 16)
    x = release_writer.to_tensor_normalized(Image.fromarray(u8[0].permute(1, 2, 0).numpy(), "RGB"))
    assert torch.equal(release.exact_uint8(x.unsqueeze(0), "t"), u8)


def test_tampered_tensor_is_refused(sample_release, tmp_path):
    root = tmp_path / "r"
    _copy_part(sample_release, root, "sdv14", 0)
    x_path = _pair_folder(root, "sdv14", 0, "train", "ai") / "X.pt"
    x = torch.load(x_path, weights_only=True)
    x[1, 0, 5, 5] += 1e-3
    torch.save(x, x_path)
    source = kinds.open_source(root, ["sdv14"])
    items = source.split_plan("train", [("sdv14", 0)]).items
    with pytest.raises(release.ReleaseError, match=r"X\.pt: row 1 .*bit for bit"):
        list(source.examples(items, "train", 64))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda x, y: (x.double(), y),
         r"expected a torch.float32 tensor of shape \[N, 3, 64, 64\], found .*torch.float64"),
        (lambda x, y: (x[:, :, :32, :32].contiguous(), y), r"found .*shape \[2, 3, 32, 32\]"),
        (lambda x, y: (x, y[:1].clone()), r"holds 2 images but .*y.pt 1 labels"),
        (lambda x, y: (x, y.int()), r"y.pt: expected a torch.int64 tensor .*found .*torch.int32"),
        (lambda x, y: (x, torch.full_like(y, 1000)), r"labels must be clsloc ids - 1 in 0..999"),
        (lambda x, y: ({"X": x}, y), r"expected a torch.float32 tensor .*found a dict"),
    ],
)
def test_bad_tensors_are_errors_naming_the_file(sample_release, tmp_path, change, message):
    root = tmp_path / "r"
    _copy_part(sample_release, root, "sdv14", 0)
    folder = _pair_folder(root, "sdv14", 0, "test", "nature")
    x, y = change(torch.load(folder / "X.pt", weights_only=True), torch.load(folder / "y.pt", weights_only=True))
    torch.save(x, folder / "X.pt")
    torch.save(y, folder / "y.pt")
    with pytest.raises(release.ReleaseError, match=message) as err:
        kinds.open_source(root, ["sdv14"]).split_plan("test", [("sdv14", 0)])
    assert str(folder) in str(err.value)


class _Payload:
    def __reduce__(self):
        return (print, ("not data",))


def test_pickled_code_is_not_loaded(sample_release, tmp_path):
    root = tmp_path / "r"
    _copy_part(sample_release, root, "sdv14", 0)
    folder = _pair_folder(root, "sdv14", 0, "train", "ai")
    torch.save(_Payload(), folder / "y.pt")
    with pytest.raises(release.ReleaseError, match=r"y.pt: refused, it holds objects other than tensors"):
        kinds.open_source(root, ["sdv14"]).split_plan("train", [("sdv14", 0)])


def test_labels_of_another_task_are_an_error(sample_release, tmp_path):
    root = tmp_path / "r"
    _copy_part(sample_release, root, "sdv14", 0)
    wrong = _pair_folder(root, "sdv14", 0, "train", "ai")
    shutil.copy(_pair_folder(sample_release, "sdv14", 1, "train", "ai") / "y.pt", wrong / "y.pt")
    with pytest.raises(release.ReleaseError, match=r"folder says task 0 but its labels are task 1"):
        kinds.open_source(root, ["sdv14"]).split_plan("train", [("sdv14", 0)])
    joint = torch.tensor([tables.clsloc_of_label()[tables.joint_classes()[0]] - 1] * 2)
    torch.save(joint, wrong / "y.pt")
    with pytest.raises(release.ReleaseError, match=r"y.pt: its labels match no single task class set"):
        kinds.open_source(root, ["sdv14"]).split_plan("train", [("sdv14", 0)])


def test_missing_and_ambiguous_files_are_errors(sample_release, tmp_path):
    root = tmp_path / "r"
    _copy_part(sample_release, root, "sdv14", 0)
    (_pair_folder(root, "sdv14", 0, "test", "ai") / "y.pt").unlink()
    with pytest.raises(release.ReleaseError, match=r"X.pt has no y.pt beside it"):
        _ = kinds.open_source(root).pairs
    shutil.rmtree(_pair_folder(root, "sdv14", 0, "test", "ai"))
    with pytest.raises(release.ReleaseError, match=r"lacks X.pt/y.pt for: sdv14 task 0 test ai"):
        kinds.open_source(root, ["sdv14"]).split_plan("test", [("sdv14", 0)])
    twice = root / "copy" / "sdv14" / "task0" / "train" / "ai"
    shutil.copytree(_pair_folder(root, "sdv14", 0, "train", "ai"), twice)
    with pytest.raises(release.ReleaseError, match=r"two tensor files for the same generator"):
        _ = kinds.open_source(root).pairs


def test_release_build_errors(sample_release, tmp_path):
    from genimage_cl import GenImageCL

    with pytest.raises(release.ReleaseError, match=r"image_size must be 64"):
        GenImageCL(config_name="sdv14", data_dir=str(sample_release), image_size=None)
    with pytest.raises(release.ReleaseError, match=r"has no sdv15 tensors; it holds adm, biggan"):
        GenImageCL(config_name="sdv15", data_dir=str(sample_release))
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(generator_folders.LayoutError,
                       match=r"neither a raw GenImage tree nor a CL tensor release.*notes.txt"):
        _ = kinds.open_source(tmp_path).kind


def test_non_finite_values_are_refused():
    u8 = torch.zeros((1, 3, 2, 2), dtype=torch.uint8)
    x = release.normalize(u8)
    assert torch.equal(release.exact_uint8(x, "t"), u8)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(release.ReleaseError, match="t: row 0"):
        release.exact_uint8(x, "t")


def test_forked_build_workers_do_not_hang_after_parent_torch_ops():
    """A parent that ran a parallel torch op, then forks (datasets' num_proc): the child's torch op
    finishes instead of waiting for the parent's OpenMP pool, which fork does not copy."""
    import subprocess
    import sys

    script = (
        "import os, torch\n"
        "import conversion.sources.release\n"
        "torch.set_num_threads(2)\n"
        "(torch.rand(2000, 2000) * 2 + 1).sum()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    (torch.rand(2000, 2000) * 3 + 1).sum()\n"
        "    os._exit(0)\n"
        "print(os.waitpid(pid, 0)[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "0", done.stderr


TRUNCATE_AFTER_FIRST_ROW = """
import os
from conversion.sources import raw_tree, release
release.BATCH_ROWS = 1  # each row is read on its own, after the row before it was stored
_row = raw_tree.row


def _truncating_row(item, image_bytes, done=[]):
    if not done:  # the X.pt being read loses its data after its first row
        done.append(item.path)
        os.truncate(item.path, 64)
    return _row(item, image_bytes)


raw_tree.row = _truncating_row
"""


def test_a_tensor_file_truncated_while_read_is_an_error_naming_it(sample_release, tmp_path, monkeypatch):
    """Not a SIGBUS: rows are read with file reads, a truncated file is named with the row not read."""
    root = tmp_path / "r"
    _copy_part(sample_release, root, "sdv14", 0)
    source = kinds.open_source(root, ["sdv14"])
    items = source.split_plan("train", [("sdv14", 0)]).items
    stored = release.raw_tree.row

    def truncating_row(item, image_bytes):
        if item is items[0]:
            os.truncate(item.path, 64)
        return stored(item, image_bytes)

    monkeypatch.setattr(release, "BATCH_ROWS", 1)
    monkeypatch.setattr(release.raw_tree, "row", truncating_row)
    with pytest.raises(release.tensor_files.BadTensorFile) as err:
        list(source.examples(items, "train", 64))
    assert items[1].path == items[0].path
    assert str(err.value).startswith(f"{items[0].path}: changed while being read (now 64 bytes, ")
    assert str(err.value).endswith(f"when checked), row {items[1].index} not read; re-run once the file is complete")


@pytest.mark.parametrize("num_proc", [None, 2])
def test_build_of_a_tensor_file_truncated_while_read_fails_in_one_line(tmp_path, num_proc):
    """Through the command line, also from datasets' worker processes (each of the two reads its own X.pt)."""
    import subprocess
    import sys

    from conversion.samples.genimage_tree import make_sample_tree

    tree = make_sample_tree(tmp_path / "GenImage", generators=["sdv14"], images_per_class=5)
    root = release_writer.make_sample_release(tree, tmp_path / "r", generators=["sdv14"])
    args = ["publish", "--data-dir", str(root), "--out", str(tmp_path / "out"), "--part", "sdv14-task0",
            "--no-progress"] + (["--num-proc", str(num_proc)] if num_proc else [])
    script = TRUNCATE_AFTER_FIRST_ROW + f"from conversion.cli import main\nmain({args!r})\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr[-2000:]
    assert "num_proc" not in done.stderr  # two shards: datasets keeps its two processes
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, done.stderr[-2000:]
    assert re.match(rf"^error: {re.escape(str(root))}/\S+/X\.pt: changed while being read \(now 64 bytes, [0-9,]+ "
                    rf"when checked\), row [0-9]+ not read; re-run once the file is complete$", errors[0]), errors[0]
