"""The builder per docs/contract.md: configs, rows, labels, task membership, order, formats."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from conversion.contract import configs, tables
from conversion.samples.genimage_tree import chosen_classes, generator_folder
from conversion.sources import file_names
from genimage_cl import GenImageCL

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["image", "label", "task_label", "source", "generator", "task", "file_name"]


def test_config_names():
    names = [c.name for c in GenImageCL.BUILDER_CONFIGS]
    keys = ["adm", "biggan", "glide", "midjourney", "sdv14", "sdv15", "vqdm", "wukong"]
    clean = keys + [f"{k}-task{t}" for k in keys for t in range(6)] + ["disjoint", "disjoint-reversed"]
    assert names == clean


def test_corrupted_configs_are_named_not_listed(sample_root, tmp_path):
    """``<config>-<corruption>`` is the config with ``corruption=...``: same cache, its own name."""
    by_name = GenImageCL(config_name="ADM-task0-Rotate", data_dir=str(sample_root), cache_dir=str(tmp_path))
    by_keyword = GenImageCL(config_name="adm-task0", corruption="rotate", data_dir=str(sample_root),
                            cache_dir=str(tmp_path))
    assert by_name.config.name == by_keyword.config.name == "adm-task0-rotate"
    assert by_name.cache_dir == by_keyword.cache_dir != GenImageCL(config_name="adm-task0", data_dir=str(sample_root),
                                                                   cache_dir=str(tmp_path)).cache_dir
    assert by_name.config.splits == ("test",)
    with pytest.raises(ValueError, match="is the rotate copy"):
        GenImageCL(config_name="adm-task0-rotate", corruption="saturate", data_dir=str(sample_root))


def test_columns_and_counts(sample_root, build):
    ds = build("sdv14", sample_root)
    assert list(ds) == ["train", "test"]
    for split in ("train", "test"):
        assert ds[split].column_names == COLUMNS
        # two classes per task, one image per class and source; joint and unused classes excluded
        cells = Counter(zip(ds[split]["task"], ds[split]["source"]))
        assert cells == {(t, s): 2 for t in range(6) for s in (0, 1)}
    assert ds["train"].features["label"].names == list(tables.wnids())
    assert ds["train"].features["source"].names == ["nature", "ai"]
    assert ds["train"].features["generator"].names == list(tables.generators())


def test_task_membership_and_labels(sample_root, build):
    ds = build("sdv14", sample_root)
    excluded = set(chosen_classes(2)[-2:])
    for split in ("train", "test"):
        rows = ds[split].remove_columns("image")
        for row in rows:
            assert row["label"] not in excluded
            task_classes = tables.task_classes()[row["task"]]
            assert row["label"] in task_classes
            assert task_classes[row["task_label"]] == row["label"]
            source = tables.SOURCES[row["source"]]
            assert file_names.label_of(row["file_name"], source, "sdv4") == row["label"]
        assert set(rows["generator"]) == {tables.generator_index("sdv14")}


def test_task_label_is_rank_by_clsloc_id(sample_root, build):
    rows = build("adm-task2", sample_root)["train"].remove_columns("image")
    clsloc = tables.clsloc_of_label()
    task = tables.task_classes()[2]
    for row in rows:
        assert row["task"] == 2
        assert row["task_label"] == sorted(clsloc[c] for c in task).index(clsloc[row["label"]])


def test_val_images_use_the_2015_ground_truth(sample_root, build):
    rows = build("sdv14", sample_root)["test"].remove_columns("image")
    nature = [r for r in rows if r["source"] == 0]
    assert nature and all(r["file_name"].startswith("ILSVRC2012_val_") for r in nature)
    for r in nature:
        number = int(r["file_name"][15:23])
        assert r["label"] == tables.val_labels()[number - 1]


def test_disjoint_is_task_k_of_generator_k(sample_root, build):
    ds = build("disjoint", sample_root)
    for split in ("train", "test"):
        pairs = set(zip(ds[split]["task"], ds[split]["generator"]))
        assert pairs == {(k, tables.generator_index(g)) for k, g in enumerate(tables.task_order())}
        per_task = build(f"{tables.task_order()[3]}-task3", sample_root)[split]
        task3 = ds[split].filter(lambda t: t == 3, input_columns="task")
        assert task3["file_name"] == per_task["file_name"]
        assert task3["image"] == per_task["image"]


def test_rows_are_sorted_and_tasks_contiguous(sample_root, build):
    for split in ("train", "test"):
        rows = build("midjourney", sample_root)[split].remove_columns("image")
        keys = list(zip(rows["task"], rows["source"], rows["label"], rows["file_name"]))
        assert keys == sorted(keys)


def test_torch_format(sample_root, build):
    ds = build("glide-task0", sample_root)["train"].with_format("torch")
    row = ds[0]
    assert row["image"].shape == (3, 64, 64) and str(row["image"].dtype) == "torch.uint8"
    assert str(row["label"].dtype) == "torch.int64"
    batch = ds[:4]
    assert len(batch["image"]) == 4 and batch["label"].shape == (4,)


def test_images_are_64px_rgb_png(sample_root, build):
    ds = build("biggan-task5", sample_root)["test"].cast_column("image", __import__("datasets").Image(decode=False))
    for row in ds:
        image = Image.open(io.BytesIO(row["image"]["bytes"]))
        assert image.format == "PNG" and image.mode == "RGB" and image.size == (64, 64)


def test_original_size_keeps_the_bytes(sample_root, build):
    import datasets

    ds = build("vqdm-task1", sample_root, image_size=None)["train"].cast_column("image", datasets.Image(decode=False))
    folder = generator_folder(sample_root, tables.generators()["vqdm"], "nested") / "train"
    for row in ds:
        source = tables.SOURCES[row["source"]]
        assert row["image"]["bytes"] == (folder / source / row["file_name"]).read_bytes()


def test_other_sizes_use_the_same_rule(sample_root, build):
    ds = build("wukong-task4", sample_root, image_size=32)["train"]
    assert {row["image"].size for row in ds} == {(32, 32)}


@pytest.mark.parametrize("size", [-3, 0, True, False, 64.0, "64"])
def test_bad_image_size(sample_root, size):
    with pytest.raises(ValueError, match="image_size must be a positive integer or 'original'"):
        GenImageCL(config_name="adm", data_dir=str(sample_root), image_size=size)


def test_default_keywords_passed_explicitly_share_the_cache(sample_root, tmp_path):
    cache = str(tmp_path)
    default = GenImageCL(config_name="sdv14-task3", data_dir=str(sample_root), cache_dir=cache)
    explicit = GenImageCL(config_name="SDV14-Task3", data_dir=str(sample_root), cache_dir=cache, image_size=64,
                          strict=False, splits=["train", "test"])
    assert explicit.cache_dir == default.cache_dir and explicit.config.name == "sdv14-task3"
    other = GenImageCL(config_name="sdv14-task3", data_dir=str(sample_root), cache_dir=cache, image_size=32)
    assert other.cache_dir != default.cache_dir


def test_disjoint_reversed_is_the_papers_reversed_benchmark(sample_root, build):
    """docs/paper-loader.md#task-orders: task k is class set k of (VQDM, SD v1.4, GLIDE, Midjourney, BigGAN, ADM)[k]."""
    ds = build("disjoint-reversed", sample_root)
    order = ["vqdm", "sdv14", "glide", "midjourney", "biggan", "adm"]
    for split in ("train", "test"):
        pairs = set(zip(ds[split]["task"], ds[split]["generator"]))
        assert pairs == {(k, tables.generator_index(g)) for k, g in enumerate(order)}
        task2 = ds[split].filter(lambda t: t == 2, input_columns="task")
        assert task2["file_name"] == build("glide-task2", sample_root)[split]["file_name"]
    assert "not GenImage-Disjoint played backwards" in GenImageCL.BUILDER_CONFIGS[-1].description


def test_config_name_is_needed_and_misspellings_get_the_closest(sample_root):
    with pytest.raises(ValueError, match=r"a config name is needed .*one of: adm biggan .*disjoint"):
        GenImageCL(data_dir=str(sample_root))
    with pytest.raises(ValueError, match=r"unknown config 'sdv14-tsak3'; closest: sdv14-task3"):
        GenImageCL(config_name="sdv14-tsak3", data_dir=str(sample_root))
    with pytest.raises(ValueError, match=r"unknown config 'stable_diffusion_v_1_4'; that is GenImage's name for "
                                         r"generator 'sdv14': use 'sdv14'"):
        GenImageCL(config_name="stable_diffusion_v_1_4", data_dir=str(sample_root))


def test_num_proc_gives_the_same_rows(sample_root, build, tmp_path, monkeypatch):
    from conversion.builder import genimage_cl

    monkeypatch.setattr(genimage_cl, "_ITEMS_PER_SHARD", 5)
    builder = GenImageCL(config_name="adm", data_dir=str(sample_root), cache_dir=str(tmp_path))
    builder.download_and_prepare(num_proc=2)
    parallel = builder.as_dataset()
    single = build("adm", sample_root)
    for split in ("train", "test"):
        assert parallel[split]["file_name"] == single[split]["file_name"]
        assert parallel[split]["image"] == single[split]["image"]


def test_tree_is_scanned_once_per_build(sample_root, tmp_path, monkeypatch):
    from conversion.sources import raw_tree

    scanned = Counter()
    original = raw_tree._list_folder

    def counting(folder):
        scanned[folder] += 1
        return original(folder)

    monkeypatch.setattr(raw_tree, "_list_folder", counting)
    builder = GenImageCL(config_name="sdv15", data_dir=str(sample_root), cache_dir=str(tmp_path))
    builder.download_and_prepare()
    assert len(scanned) == 4 and set(scanned.values()) == {1}


BUILD_SCRIPT = """
import hashlib, sys
from genimage_cl import GenImageCL
b = GenImageCL(config_name="disjoint", data_dir=sys.argv[1], cache_dir=sys.argv[2])
b.download_and_prepare()
ds = b.as_dataset()
h = hashlib.sha256()
for split in ("train", "test"):
    for table in ds[split].data.to_batches():
        h.update(repr(table.to_pydict()).encode())
print(h.hexdigest())
"""


def test_two_builds_are_identical_whatever_the_hash_seed(sample_root, tmp_path):
    digests = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", BUILD_SCRIPT, str(sample_root), str(tmp_path / seed)],
            env=env, capture_output=True, text=True, check=True, cwd=ROOT,
        )
        digests.append(out.stdout.strip().splitlines()[-1])
    assert digests[0] == digests[1]


def test_file_system_order_does_not_matter(sample_root, tmp_path, build, monkeypatch):
    """A listing in reverse order (as another file system might give) builds the same rows."""
    from conversion.sources import raw_tree

    original = raw_tree._list_folder
    def reversed_listing(folder):
        entries, links = original(folder)
        return list(reversed(entries)), links

    monkeypatch.setattr(raw_tree, "_list_folder", reversed_listing)
    builder = GenImageCL(config_name="sdv14-task1", data_dir=str(sample_root), cache_dir=str(tmp_path))
    builder.download_and_prepare()
    reordered = builder.as_dataset()
    for split in ("train", "test"):
        assert reordered[split]["file_name"] == build("sdv14-task1", sample_root)[split]["file_name"]


def test_every_config_is_declared_consistently():
    for name, parts in configs.config_parts().items():
        config = GenImageCL.builder_configs[name]
        assert config.parts == tuple(parts) and config.image_size == 64
