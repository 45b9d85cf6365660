"""Builds of a defect-laden tree: nothing lost, every skip reported with its reason, totals that add up."""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path, PurePosixPath

import pytest

from conversion.builder import build_report, genimage_cl
from conversion.contract import tables
from conversion.pixels import decode
from conversion.samples import genimage_tree
from genimage_cl import GenImageCL

ROOT = Path(__file__).resolve().parents[2]
DEFECT_GENERATORS = ["adm", "biggan", "glide", "sdv14", "sdv15"]


@pytest.fixture(scope="module")
def defect_tree(tmp_path_factory):
    root = genimage_tree.make_sample_tree(
        tmp_path_factory.mktemp("defects") / "GenImage", generators=DEFECT_GENERATORS, classes_per_task=1
    )
    return root, genimage_tree.inject_defects(root)


@pytest.fixture(scope="module")
def built(defect_tree, tmp_path_factory):
    """{generator: (builder, dataset, report)} for one build of each generator's config."""
    root, _ = defect_tree
    cache = tmp_path_factory.mktemp("defect_cache")
    result = {}
    for key in DEFECT_GENERATORS:
        builder = GenImageCL(config_name=key, data_dir=str(root), cache_dir=str(cache))
        builder.download_and_prepare()
        report = build_report.load(Path(builder.cache_dir) / build_report.REPORT_FILE)
        result[key] = (builder, builder.as_dataset(), report)
    return result


def folder_cell(relative: str) -> tuple[str, str, str]:
    """(generator, split, source) of a path relative to the tree root."""
    parts = PurePosixPath(relative).parts
    generator = next(k for k, g in tables.generators().items() if g.top_folder == parts[0])
    return generator, {"train": "train", "val": "test"}[parts[-3]], parts[-2]


def test_every_defect_has_its_outcome(defect_tree, built):
    root, expected = defect_tree
    for relative, outcome in expected.items():
        generator, split, source = folder_cell(relative)
        _, dataset, report = built[generator]
        skipped = {r["path"]: r for r in report["skipped"]}
        different = {r["path"]: r for r in report["differences"]}
        names = set(dataset[split]["file_name"])
        name = PurePosixPath(relative).name
        if outcome in (genimage_tree.KEPT, decode.RELEASE_DROPPED):
            assert name in names and relative not in skipped, relative
            assert (relative in different) == (outcome == decode.RELEASE_DROPPED), relative
        else:
            assert name not in names, relative
            row = skipped[relative]
            assert row["reason"].split(":")[0] == outcome, row
            assert (row["generator"], row["split"], row["source"]) == (generator, split, source)
    all_skipped = [r["path"] for _, _, rep in built.values() for r in rep["skipped"]]
    assert sorted(all_skipped) == sorted(p for p, o in expected.items()
                                         if o not in (genimage_tree.KEPT, decode.RELEASE_DROPPED))


def test_totals_add_up_against_the_disk_and_the_rows(defect_tree, built):
    root, expected = defect_tree
    table = tables.generators()
    for key, (_, dataset, report) in built.items():
        for split, folder in (("train", "train"), ("test", "val")):
            rows = Counter(tables.SOURCES[s] for s in dataset[split]["source"])
            for source in tables.SOURCES:
                t = report["totals"][f"{key}/{split}/{source}"]
                on_disk = len(list(
                    (root / table[key].top_folder / table[key].inner_folder / folder / source).iterdir()))
                assert t["found"] == on_disk
                assert t["kept"] == rows[source]
                assert t["found"] == t["kept"] + t["skipped"] + t["excluded"]
                assert t["excluded"] == 2  # the joint and the unused class of the sample tree
                bad = [p for p, o in expected.items() if folder_cell(p) == (key, split, source)
                       and o not in (genimage_tree.KEPT, decode.RELEASE_DROPPED)]
                assert t["skipped"] == len(bad)


def test_report_files_are_in_the_cache_dir_with_relative_paths(built):
    for builder, _, report in built.values():
        out = Path(builder.cache_dir)
        with open(out / build_report.SKIPS_FILE, newline="") as f:
            rows = list(csv.DictReader(f))
        assert [r["path"] for r in rows] == [r["path"] for r in report["skipped"]]
        for row in report["skipped"] + report["differences"]:
            path = PurePosixPath(row["path"])
            assert not path.is_absolute() and ".." not in path.parts
        assert not (out / build_report.PARTS_DIR).exists()


def test_mismatch_is_caught(tmp_path):
    plan = {"split": "train", "num_shards": 1, "found": {"adm/train/ai": 3}, "excluded": {"adm/train/ai": 0},
            "skips": [], "empty": []}
    (tmp_path / "train-00000.json").write_text(
        json.dumps({"kept": {"adm/train/ai": 2}, "skips": [], "differences": []}))
    with pytest.raises(build_report.ReportMismatch, match="found 3 != kept 2"):
        build_report.assemble(tmp_path, [plan], {"train": 2}, "adm", "x")
    with pytest.raises(build_report.ReportMismatch, match="2 files kept but 5 rows"):
        build_report.assemble(tmp_path, [plan], {"train": 5}, "adm", "x")
    (tmp_path / "train-00000.json").unlink()
    with pytest.raises(build_report.ReportMismatch, match="no record of train shard 0"):
        build_report.assemble(tmp_path, [plan], {"train": 2}, "adm", "x")


def test_summary_line_is_logged(defect_tree, tmp_path, caplog):
    root, _ = defect_tree
    with caplog.at_level(logging.INFO, logger="conversion.builder.build_report"):
        builder = GenImageCL(config_name="glide", data_dir=str(root), cache_dir=str(tmp_path))
        builder.download_and_prepare()
    lines = [r.getMessage() for r in caplog.records
             if r.name == "conversion.builder.build_report" and r.levelno >= logging.WARNING]
    assert len(lines) == 1
    assert lines[0].startswith("genimage-cl glide: 37 files found, 26 kept, 3 skipped (bad header: 1, file name: 1, "
                               "not an image file: 1), 8 excluded by class; report: ")
    assert lines[0].endswith(str(Path(builder.cache_dir) / build_report.REPORT_FILE))


@pytest.mark.parametrize("key, first", [("adm", "x_adm_1.PNG"), ("sdv15", "n02417914_901.JPEG")])
def test_strict_names_the_file(defect_tree, tmp_path, key, first):
    root, _ = defect_tree
    GenImageCL(config_name=key, data_dir=str(root), cache_dir=str(tmp_path)).download_and_prepare()
    builder = GenImageCL(config_name=key, data_dir=str(root), cache_dir=str(tmp_path), strict=True)
    with pytest.raises(build_report.StrictError, match=f"{first} skipped: "):
        builder.download_and_prepare()  # the lenient build in the same cache is not served instead
    assert not Path(builder.cache_dir).exists()


def test_strict_in_worker_processes(defect_tree, tmp_path, monkeypatch):
    root, _ = defect_tree
    monkeypatch.setattr(genimage_cl, "_ITEMS_PER_SHARD", 3)
    builder = GenImageCL(config_name="sdv15", data_dir=str(root), cache_dir=str(tmp_path), strict=True)
    with pytest.raises(build_report.StrictError, match="n02417914_901.JPEG skipped: truncated"):
        builder.download_and_prepare(num_proc=2)


def test_strict_passes_a_clean_tree(sample_root, tmp_path):
    builder = GenImageCL(config_name="wukong-task1", data_dir=str(sample_root), cache_dir=str(tmp_path), strict=True)
    builder.download_and_prepare()
    report = build_report.load(Path(builder.cache_dir) / build_report.REPORT_FILE)
    assert report["skipped"] == [] and build_report.sums(report)["kept"] == sum(builder.info.splits[s].num_examples
                                                                              for s in ("train", "test"))


def test_num_proc_report_equals_single_process(defect_tree, built, tmp_path, monkeypatch):
    root, _ = defect_tree
    monkeypatch.setattr(genimage_cl, "_ITEMS_PER_SHARD", 4)
    builder = GenImageCL(config_name="sdv14", data_dir=str(root), cache_dir=str(tmp_path))
    builder.download_and_prepare(num_proc=2)
    report = build_report.load(Path(builder.cache_dir) / build_report.REPORT_FILE)
    assert report == built["sdv14"][2]
    assert builder.as_dataset()["train"]["file_name"] == built["sdv14"][1]["train"]["file_name"]


def test_report_command_finds_reports_in_a_cache_tree(built):
    builder = built["sdv15"][0]
    cache_root = Path(builder.cache_dir).parents[2]
    out = subprocess.run([sys.executable, "-m", "conversion", "report", str(cache_root)], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    for b, _, report in built.values():
        assert f"# {Path(b.cache_dir) / build_report.REPORT_FILE}" in out
        for row in report["skipped"]:
            assert f"  {row['path']}: {row['reason']}" in out
    assert "stable_diffusion_v_1_5/imagenet_ai_0424_sdv5/val/ai/350_sdv5_00907.png: kept; the release dropped it" in out
    one = subprocess.run([sys.executable, "-m", "conversion", "report", builder.cache_dir], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert one.count("# ") == 1 and "config sdv15" in one


def test_report_command_without_report(tmp_path):
    run = subprocess.run([sys.executable, "-m", "conversion", "report", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 1 and "no build_report.json" in run.stderr


def test_printed_paths_are_escaped():
    assert build_report.printable("a\nb\udcff.png") == "a\\nb\\udcff.png"
    assert build_report.relative_path("/elsewhere/x.png", "/data/GenImage") == "x.png"
    assert build_report.relative_path("/data/GenImage/A/b.png", "/data/GenImage") == "A/b.png"


def test_card_section_counts_from_reports(defect_tree, built):
    from conversion.hub_copy import card_differences

    skipped = sum(o not in (genimage_tree.KEPT, decode.RELEASE_DROPPED) for o in defect_tree[1].values())
    reports = [report for _, _, report in built.values()]
    text = card_differences.render(reports + reports[:1])  # a file counts once, however many builds hold it
    assert "$" not in text
    assert "converting the resized image to RGB" in text
    assert ": 1 image(s) in the builds counted here" in text
    assert f"with its reason: {skipped} file(s) in the builds counted here" in text
    assert "| sdv15 | 1 | " in text
    header = next(line for line in text.splitlines() if line.startswith("| generator"))
    assert "skipped: decompression bomb" in header and "skipped: truncated" in header
    assert "No file was left out" in card_differences.render([])


def test_odd_entries_and_names_are_reported_and_write_nothing_outside(tmp_path):
    """Sub-folders, broken links, FIFOs and hostile names: reported, escaped, and no write outside the cache."""
    root = genimage_tree.make_sample_tree(tmp_path / "tree" / "GenImage", generators=["wukong"], classes_per_task=1)
    folder = genimage_tree.generator_folder(root, tables.generators()["wukong"], "nested") / "train"
    good = next((folder / "ai").iterdir()).read_bytes()
    label = tables.task_classes()[1][0]
    (folder / "nature" / tables.wnids()[label]).mkdir()  # ImageNet-style class folder
    (folder / "ai" / "missing_350_wukong_1.png").symlink_to(tmp_path / "nowhere.png")
    os.mkfifo(folder / "ai" / f"{label}_wukong_00777.png")
    hostile = [f"..x_{label}_wukong_1.png"]  # kept: it names a class
    for name in hostile + ["..\n..evil.png", f"line\nbreak_{label}_wukong_2.png"]:
        (folder / "ai" / name).write_bytes(good)
    os.close(os.open(os.path.join(os.fsencode(folder / "ai"), b"\xff_" + str(label).encode() + b"_wukong_3.png"),
                     os.O_CREAT | os.O_WRONLY))
    before = sorted(p for p in tmp_path.rglob("*") if "cache" not in p.parts)

    builder = GenImageCL(config_name="wukong", data_dir=str(root), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    assert sorted(p for p in tmp_path.rglob("*") if "cache" not in p.parts) == before
    report = build_report.load(Path(builder.cache_dir) / build_report.REPORT_FILE)
    reasons = {PurePosixPath(r["path"]).name: r["reason"] for r in report["skipped"]}
    assert reasons[tables.wnids()[label]].startswith("folder: ")
    assert reasons["missing_350_wukong_1.png"].startswith("cannot read file")
    assert reasons[f"{label}_wukong_00777.png"] == "not a regular file"
    assert reasons["\udcff_" + str(label) + "_wukong_3.png"] == "file name: not valid UTF-8"
    names = builder.as_dataset()["train"]["file_name"]
    assert all(name in names for name in hostile)
    assert reasons["..\n..evil.png"] == reasons[f"line\nbreak_{label}_wukong_2.png"] == (
        "file name: holds a control character (U+000A)")
    printed = build_report.format_report(report)
    assert "\udcff" not in printed and "\n..evil" not in printed
    assert "/\\udcff_" in printed and "/..\\n..evil.png: file name" in printed
    t = report["totals"]["wukong/train/ai"]
    assert t["found"] == t["kept"] + t["skipped"] + t["excluded"] == len(os.listdir(folder / "ai"))


def test_demo_prints_the_report_of_a_defect_tree(defect_tree, tmp_path, capsys):
    import argparse
    import shutil

    from conversion.commands import demo

    shutil.copytree(defect_tree[0], tmp_path / "GenImage-defects")
    demo.run(argparse.Namespace(config="sdv15", workdir=tmp_path, num_proc=None, defects=True, no_progress=True))
    out = capsys.readouterr().out
    assert "sdv15/train/nature         10     7        1         2                     0" in out
    assert "  stable_diffusion_v_1_5/imagenet_ai_0424_sdv5/train/nature/n02417914_901.JPEG: truncated: " in out


def test_an_unexpected_error_in_one_file_is_that_files_skip(tmp_path, monkeypatch):
    root = genimage_tree.make_sample_tree(tmp_path / "GenImage", generators=["wukong"], classes_per_task=1)
    wukong = tables.generators()["wukong"]
    victim = genimage_tree.generator_folder(root, wukong, "nested") / "train" / "ai" / genimage_tree.ai_file_name(
        wukong, tables.task_classes()[0][0], 0)
    convert = decode.convert

    def fail_on_victim(data, source, image_size, *check):
        if data == victim.read_bytes():
            raise MemoryError  # what a 2,000,000x1 resize raised before: no file named, build lost
        return convert(data, source, image_size, *check)

    monkeypatch.setattr(decode, "convert", fail_on_victim)
    builder = GenImageCL(config_name="wukong", data_dir=str(root), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    report = build_report.load(Path(builder.cache_dir) / build_report.REPORT_FILE)
    assert [(PurePosixPath(r["path"]).name, r["reason"]) for r in report["skipped"]] == [
        (victim.name, "unexpected error: MemoryError")
    ]
    assert builder.as_dataset()["train"].num_rows == (
        build_report.sums(report)["kept"] - len(builder.as_dataset()["test"]))


def test_an_empty_source_folder_is_warned_in_the_summary_and_the_report(tmp_path, caplog):
    root = genimage_tree.make_sample_tree(tmp_path / "GenImage", generators=["wukong"], classes_per_task=1)
    folder = genimage_tree.generator_folder(root, tables.generators()["wukong"], "nested") / "val" / "ai"
    for path in folder.iterdir():
        path.unlink()
    builder = GenImageCL(config_name="wukong-task2", data_dir=str(root), cache_dir=str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING, logger="conversion.builder.build_report"):
        builder.download_and_prepare()
    report = build_report.load(Path(builder.cache_dir) / build_report.REPORT_FILE)
    assert report["empty"] == [f"wukong task 2 test ai: no image (folder {folder} is empty)"]
    assert "; 1 empty part(s): wukong task 2 test ai; report: " in caplog.text
    assert f"warning: 1 empty part(s)\n  wukong task 2 test ai: no image (folder {folder} is empty)" in (
        build_report.format_report(report))


def test_a_tensor_pair_with_no_rows_is_warned(sample_release, tmp_path):
    import shutil

    import torch

    from conversion.samples import tensor_release as release_writer

    root = tmp_path / "release"
    for split in ("train", "test"):
        for source in tables.SOURCES:
            shutil.copytree(release_writer.release_folder(sample_release, "original", "vqdm", 5, split, source),
                            release_writer.release_folder(root, "original", "vqdm", 5, split, source))
    emptied = release_writer.release_folder(root, "original", "vqdm", 5, "test", "nature")
    torch.save(torch.zeros(0, 3, 64, 64), emptied / "X.pt")
    torch.save(torch.zeros(0, dtype=torch.int64), emptied / "y.pt")
    builder = GenImageCL(config_name="vqdm-task5", data_dir=str(root), cache_dir=str(tmp_path / "cache"))
    builder.download_and_prepare()
    report = build_report.load(Path(builder.cache_dir) / build_report.REPORT_FILE)
    assert report["empty"] == [
        f"vqdm task 5 test nature: no image ({emptied / 'X.pt'} and {emptied / 'y.pt'} hold N=0 rows)"]
    assert report["totals"]["vqdm/test/nature"]["found"] == 0
    assert "1 empty part(s): vqdm task 5 test nature" in build_report.summary_line(report, "x")


def test_an_unexpected_error_while_parsing_a_name_is_that_files_skip(tmp_path, monkeypatch):
    from conversion.sources import file_names, raw_tree

    root = genimage_tree.make_sample_tree(tmp_path / "GenImage", generators=["wukong"], classes_per_task=1)
    label_of = file_names.label_of
    victim = genimage_tree.ai_file_name(tables.generators()["wukong"], tables.task_classes()[0][0], 0)

    def odd(name, source, tag):
        if name == victim:
            raise UnicodeError("a name no rule foresaw")
        return label_of(name, source, tag)

    monkeypatch.setattr(file_names, "label_of", odd)
    plan = raw_tree.plan(raw_tree.scan(root, ["wukong"]), "train", [("wukong", 0)])
    assert [(PurePosixPath(s.path).name, s.reason) for s in plan.skips] == [
        (victim, "file name: unexpected error: UnicodeError: a name no rule foresaw")
    ]
    assert plan.items and victim not in [item.file_name for item in plan.items]
