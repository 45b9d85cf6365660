"""Nothing from outside the tree reaches a copy: links out are skipped, only regular files are read (never
blocking), a file must hold as many bytes as its size says, and every stored file starts like an image."""

from __future__ import annotations

import os
import threading
from pathlib import Path, PurePosixPath

import pyarrow.parquet as pq
import pytest

from conversion import cli
from conversion.builder import build_report
from conversion.contract import tables
from conversion.hub_copy import parts
from conversion.pixels import decode
from conversion.samples import genimage_tree
from conversion.sources import kinds, raw_tree

GENERATOR = tables.generators()["sdv14"]
SECRET = "hf_x_not_for_the_hub"


def build(data_dir: Path, out: Path) -> None:
    """The issue's command (then ``build``; now a publish job): full-size bytes, stored unchecked."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(["publish", "--data-dir", str(data_dir), "--out", str(out), "--part", "sdv14-task2",
                  "--image-size", "original", "--check", "none", "--no-progress"])
    assert exit_.value.code == 0


def stored(out: Path) -> tuple[dict[str, bytes], dict[str, str]]:
    """{file_name: stored bytes} of every shard, and {file name: skip reason} of the build report."""
    rows = {}
    for shard in sorted(out.rglob("*.parquet")):
        table = pq.read_table(shard, columns=["image", "file_name"]).to_pydict()
        rows.update({name: image["bytes"] for name, image in zip(table["file_name"], table["image"])})
    report = build_report.load(parts.report_path(out, "sdv14", 2))
    return rows, {PurePosixPath(r["path"]).name: r["reason"] for r in report["skipped"]}


def test_links_out_of_the_tree_and_non_images_are_never_stored(tmp_path, monkeypatch):
    """``ln -s /proc/self/environ .../train/ai/249_sdv4_E1.png`` stored the process environment (with
    HF_TOKEN) in the Parquet shard, a link to /etc/passwd the password file."""
    monkeypatch.setenv("HF_TOKEN", SECRET)
    tree = genimage_tree.make_sample_tree(tmp_path / "GenImage", generators=["sdv14"], classes_per_task=1)
    ai = genimage_tree.generator_folder(tree, GENERATOR, "nested") / "train" / "ai"
    label = tables.task_classes()[2][0]
    original = next(ai.glob(f"{label:03d}_*"))
    image = original.read_bytes()
    (tmp_path / "elsewhere.png").write_bytes(image)
    links_out = {f"{label}_sdv4_E1.png": "/proc/self/environ", f"{label}_sdv4_E2.png": "/etc/passwd",
                 f"{label}_sdv4_E3.png": str(tmp_path / "elsewhere.png")}
    for name, target in links_out.items():
        (ai / name).symlink_to(target)
    (ai / f"{label}_sdv4_E4.png").write_text("root:x:0:0:root:/root:/bin/bash\n")
    inside = f"{label}_sdv4_E5.png"
    (ai / inside).symlink_to(original.name)  # a link within the tree

    build(tree, tmp_path / "out")
    rows, reasons = stored(tmp_path / "out")
    assert not any(SECRET.encode() in data or b"root:" in data for data in rows.values())
    for name in links_out:
        assert reasons[name] == decode.OUTSIDE and name not in rows
    assert reasons[f"{label}_sdv4_E4.png"] == decode.NO_SIGNATURE
    assert rows[inside] == image and inside not in reasons


def test_a_generator_folder_linked_from_another_disk_keeps_working(tmp_path):
    disk = genimage_tree.make_sample_tree(tmp_path / "disk2", generators=["sdv14"], classes_per_task=1)
    (tmp_path / "GenImage").mkdir()
    (tmp_path / "GenImage" / GENERATOR.top_folder).symlink_to(disk / GENERATOR.top_folder)
    source = kinds.open_source(tmp_path / "GenImage", ["sdv14"])
    plan = source.split_plan("train", [("sdv14", 2)])
    assert plan.items and not plan.skips
    kept = list(source.examples(plan.items, "train", raw_tree.ORIGINAL, check="none"))
    assert len(kept) == len(plan.items)


def test_a_source_folder_linked_out_of_the_tree_is_skipped(tmp_path):
    tree = genimage_tree.make_sample_tree(tmp_path / "GenImage", generators=["sdv14"], classes_per_task=1)
    ai = genimage_tree.generator_folder(tree, GENERATOR, "nested") / "train" / "ai"
    ai.rename(tmp_path / "outside")
    ai.symlink_to(tmp_path / "outside")
    plan = kinds.open_source(tree, ["sdv14"]).split_plan("train", [("sdv14", 2)])
    skipped = {Path(skip.path).parent for skip in plan.skips if skip.reason == decode.OUTSIDE}
    assert skipped == {ai} and not any(item.source == tables.SOURCES.index("ai") for item in plan.items)


def test_a_link_swapped_in_after_the_scan_is_refused_when_read(tmp_path):
    tree = genimage_tree.make_sample_tree(tmp_path / "GenImage", generators=["sdv14"], classes_per_task=1)
    source = kinds.open_source(tree, ["sdv14"])
    item = source.split_plan("train", [("sdv14", 2)]).items[0]
    os.replace(item.path, tmp_path / "moved.png")
    os.symlink(tmp_path / "moved.png", item.path)
    skips = []

    class Log:
        def skip(self, item, split, reason):
            skips.append(reason)

        def kept(self, item, difference):
            pass

    assert not list(source.examples([item], "train", raw_tree.ORIGINAL, Log(), check="none"))
    assert skips == [decode.OUTSIDE]


def test_bytes_read_must_match_the_size(tmp_path):
    """/proc files say size 0 and hold bytes; a file that grows while read holds more than its size."""
    with pytest.raises(decode.Unreadable) as err:
        decode.read_limited("/proc/self/environ")
    assert str(err.value).startswith("size mismatch: read ") and str(err.value).endswith("whose size is 0")


def test_a_fifo_is_never_opened_blocking(tmp_path, monkeypatch):
    """A FIFO swapped in after the stat (here: a stat that says 'regular file') is opened without waiting for a
    writer, then refused."""
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    stat_of = os.stat
    regular = stat_of(__file__)
    monkeypatch.setattr(os, "stat", lambda path, *a, **k: regular if str(path) == str(fifo) else stat_of(path, *a, **k))
    outcome = []

    def read():
        try:
            decode.read_limited(str(fifo))
        except decode.Unreadable as err:
            outcome.append(str(err))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "read_limited blocked on a FIFO"
    assert outcome == ["not a regular file"]


@pytest.mark.parametrize("data", [b"root:x:0:0:root:/root:/bin/bash\n", b"\x00" * 64, b"PK\x03\x04zip"])
def test_every_stored_file_has_an_image_signature_also_unchecked(data):
    for size in (None, 64):
        for check in decode.CHECKS:
            with pytest.raises(decode.Unreadable, match=f"^{decode.NO_SIGNATURE}$"):
                decode.convert(data, "ai", size, check)


def test_every_accepted_format_has_its_signature():
    import io

    from PIL import Image

    for fmt in decode.FORMATS:
        if fmt == "MPO":
            continue  # written as JPEG
        buffer = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buffer, format=fmt)
        assert decode.convert(buffer.getvalue(), "ai", None, "none").data == buffer.getvalue()
