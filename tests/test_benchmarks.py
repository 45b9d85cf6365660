"""The benchmark corpus, the re-implemented original pipeline and the measuring harness."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from benchmarks import corpus, original_pipeline
from benchmarks.measure import run_case
from conversion.contract import tables
from conversion.sources import file_names, kinds


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    manifest = corpus.make_corpus(root, images=12, config="sdv14-task2", test_fraction=0.25, num_proc=1)
    return root, manifest


def test_corpus_has_real_names_equal_counts_and_realistic_files(small_corpus):
    root, manifest = small_corpus
    generator = tables.generators()["sdv14"]
    listing = kinds.open_source(root, ["sdv14"]).listing
    counts = {}
    for split in ("train", "test"):
        for source in tables.SOURCES:
            files = sorted(listing.folders["sdv14", split, source].iterdir())
            counts[split, source] = len(files)
            for path in files:
                label = file_names.label_of(path.name, source, generator.tag)
                assert tables.task_of_label()[label][0] == 2
                with Image.open(path) as image:
                    if source == "ai":
                        assert image.format == "PNG" and image.size == (512, 512)
                    else:
                        assert image.format == "JPEG" and min(image.size) >= 333
    assert counts == {("train", "nature"): 4, ("train", "ai"): 4, ("test", "nature"): 2, ("test", "ai"): 2}
    assert manifest["files"] == 12
    assert 350e3 < manifest["ai_bytes"] / manifest["ai_files"] < 550e3
    nature_mean = (manifest["bytes"] - manifest["ai_bytes"]) / (manifest["files"] - manifest["ai_files"])
    assert 90e3 < nature_mean < 170e3


def test_corpus_is_deterministic_and_refuses_a_different_one(small_corpus, tmp_path):
    root, manifest = small_corpus
    again = corpus.make_corpus(tmp_path, images=12, config="sdv14-task2", test_fraction=0.25, num_proc=2)
    assert again == manifest
    some = sorted(p.relative_to(root) for p in root.rglob("*.png"))[:2]
    assert all((root / p).read_bytes() == (tmp_path / p).read_bytes() for p in some)
    with pytest.raises(ValueError, match="different corpus"):
        corpus.make_corpus(tmp_path, images=24, config="sdv14-task2")


def test_original_pipeline_gives_our_pixels_and_release_labels(build, sample_root, tmp_path):
    """The baseline is faithful: its X.pt, de-normalized, equals the builder's 64-px pixels."""
    source = kinds.open_source(sample_root, ["sdv14"])
    items = {"train": source.split_plan("train", [("sdv14", 1)]).items}
    assert original_pipeline.convert(items, tmp_path) == len(items["train"])
    ours = build("sdv14-task1", sample_root)["train"]
    release = tables.release_pixels()
    mean = torch.tensor(release["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(release["std"]).view(1, 3, 1, 1)
    for source_id, source_name in enumerate(tables.SOURCES):
        folder = tmp_path / "tensors" / "sdv14" / "task1" / "train" / source_name
        x = torch.load(folder / "X.pt", weights_only=True)
        y = torch.load(folder / "y.pt", weights_only=True)
        rows = ours.filter(lambda r: r["source"] == source_id)  # noqa: B023 (filter runs at once)
        assert x.dtype == torch.float32 and x.shape == (len(rows), 3, 64, 64)
        u8 = torch.round((x * std + mean) * 255).to(torch.uint8)
        expected = np.stack([np.asarray(row["image"].convert("RGB")).transpose(2, 0, 1) for row in rows])
        assert np.array_equal(u8.numpy(), expected)
        assert y.tolist() == [tables.clsloc_of_label()[label] - 1 for label in rows["label"]]


def test_measured_case_reports_items_time_and_memory(small_corpus):
    root, manifest = small_corpus
    result = run_case("read_bytes", data_dir=str(root), config="sdv14-task2")
    assert result["items"] == manifest["files"]
    assert result["in_bytes"] == manifest["bytes"]
    assert result["seconds"] > 0 and result["rss_self_mb"] > 10 and result["private_mb"] > 1


@pytest.mark.parametrize("decoder", ["pillow", "imagecodecs"])
def test_decode_only_baselines_decode_every_file(small_corpus, decoder):
    root, manifest = small_corpus
    result = run_case("decode_only", data_dir=str(root), config="sdv14-task2", decoder=decoder)
    assert result["items"] == manifest["files"]


def test_structure_checked_build_case(small_corpus, tmp_path):
    root, manifest = small_corpus
    result = run_case("convert", data_dir=str(root), config="sdv14-task2", cache_dir=str(tmp_path),
                      image_size="original", check="structure")
    assert result["items"] == manifest["files"] and result["out_bytes"] > manifest["bytes"]


def test_listing_tree_is_shaped_like_a_generator_and_plans_like_one(tmp_path):
    """Empty files with GenImage's names over all 1000 classes: every task plans, the rest is excluded."""
    from benchmarks import listing_tree

    per_source = listing_tree.per_source_for(3360)
    manifest = listing_tree.make_listing_tree(tmp_path / "tree", "sdv14", per_source)
    assert manifest["files"] == 3360 and manifest["empty_files"] == 3360
    assert listing_tree.make_listing_tree(tmp_path / "tree", "sdv14", per_source) == manifest
    source = kinds.open_source(tmp_path / "tree", ["sdv14"])
    plan = source.split_plan("train", [("sdv14", task) for task in range(6)])
    assert not plan.skips and plan.found == {("sdv14", "ai"): 1620, ("sdv14", "nature"): 1620}
    assert {item.task for item in plan.items} == set(range(6))
    assert len(plan.items) + sum(plan.excluded.values()) == 3240


def test_a_killed_make_is_made_again_and_a_foreign_folder_is_refused_untouched(tmp_path):
    """Only what a benchmark run wrote is deleted: a folder it began (killed before its manifest) is made again;
    a folder holding other files is refused, its files kept."""
    from benchmarks import listing_tree

    per_source = {"train": 6, "test": 2}
    root = tmp_path / "tree"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=r"holds files that no benchmark run wrote \(it has no listing-tree.json\)"):
        listing_tree.make_listing_tree(root, "sdv14", per_source)
    assert [path.name for path in root.iterdir()] == ["notes.txt"]

    killed = tmp_path / "killed"
    killed.mkdir()
    arguments = {"generator": "sdv14", "per_source": per_source, "images_from": None}
    (killed / listing_tree.MANIFEST).write_text(json.dumps({"arguments": arguments, "unfinished": True}))
    (killed / "half-written").write_text("")
    manifest = listing_tree.make_listing_tree(killed, "sdv14", per_source)
    assert manifest["files"] == 16 and not (killed / "half-written").exists()
    assert json.loads((killed / listing_tree.MANIFEST).read_text()) == manifest


def test_listing_tree_around_a_corpus_plans_only_its_images(small_corpus, tmp_path):
    from benchmarks import listing_tree

    root, manifest = small_corpus
    tree = listing_tree.make_listing_tree(tmp_path / "tree", "sdv14", {"train": 40, "test": 10}, images_from=root)
    assert tree["files"] == 100 and tree["images"] == manifest["files"]
    source = kinds.open_source(tmp_path / "tree", ["sdv14"])
    items = [item for split in ("train", "test") for item in source.split_plan(split, [("sdv14", 2)]).items]
    assert len(items) == manifest["files"] and all(item.size > 0 for item in items)


def test_release_corpus_has_the_rows_asked_for(tmp_path):
    from benchmarks import release_corpus

    made = release_corpus.make_release(tmp_path, 50)
    source = kinds.open_source(made["release"], ["sdv14"])
    rows = sum(len(source.split_plan(split, source.parts()).items) for split in ("train", "test"))
    assert made["rows"] == rows == 50 and len(source.parts()) == 6


def test_scaling_groups_run_and_print_ratios(tmp_path, capsys):
    """Groups e-g at a tiny size: every case runs and its table shows the ratio to the in-run baseline
    (no timing is asserted: the machine is shared)."""
    from benchmarks import run

    run.main(["e", "f", "g", "--images", "24", "--listing-files", "400", "--release-rows", "48",
              "--workdir", str(tmp_path)])
    printed = capsys.readouterr().out
    for title in ("e) planning", "f) one task built with num_proc 2 vs 1", "g) publishing from a tensor release"):
        assert title in printed
    rows = {row["label"]: row for row in json.loads((tmp_path / "results.json").read_text())}
    assert {row["group"] for row in rows.values()} == {"e", "f", "g"}
    assert rows[run.PLAN_LABELS["one_open_one_plan"]]["listings"] == 4  # one scan: four source folders
    assert rows["publish, OMP_NUM_THREADS=1"]["row_threads"] == rows["publish, default threads"]["row_threads"] == [1]
    assert rows["publish, default threads"]["items"] == 48
    assert re.search(r"\| one open_source, one split_plan of the 6 parts \| [\d,]+ \| [\d.]+ \| [\d.]+x \|", printed)
    assert re.search(r"num_proc 2 / num_proc 1: CPU s \(process \+ children\) \| [\d.]+ \|", printed)
    assert re.search(r"publish, default threads vs publish, OMP_NUM_THREADS=1: rows/s \| [\d.]+ \| [\d.]+ \|", printed)


def test_task_release_has_the_train_rows_asked_for_and_its_config_built(tmp_path):
    from benchmarks import task_release
    from genimage_cl import GenImageCL

    made = task_release.make_task_release(tmp_path, 50)
    builder = GenImageCL(config_name=made["config"], data_dir=made["release"], cache_dir=made["cache"])
    train = builder.as_dataset("train")
    assert made["rows"] == len(train) == 50 and made["config"] == "sdv14-task0" and set(train["task"]) == {0}
    assert sum(len(torch.load(path, weights_only=True)) for path in made["x"]) == 50
    assert task_release.make_task_release(tmp_path, 50) == made  # made once
    with pytest.raises(ValueError, match="holds a different release"):
        task_release.make_task_release(tmp_path, 60)
