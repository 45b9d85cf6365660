"""The release's corrupted test copies: the recipe, discovery in both layouts, the lossless Hub copy."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

pytest.importorskip("skimage")
import skimage.color  # noqa: E402
import skimage.filters  # noqa: E402
import skimage.transform  # noqa: E402

from conversion import cli
from conversion.contract import tables  # noqa: E402
from conversion.hub_copy import publish
from conversion.pixels import corruption_recipe
from conversion.samples import genimage_tree, tensor_release
from conversion.sources import kinds, release
from conversion.uses.tensors import paper_tensors  # noqa: E402
from tests.helpers import code_lines  # noqa: E402

ORDER = list(tables.task_order())


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """The six release generators, 11 test images per task and source (the copies keep the first 10)."""
    return genimage_tree.make_sample_tree(tmp_path_factory.mktemp("corrupt") / "GenImage", generators=ORDER,
                                        classes_per_task=1, images_per_class=11, ai_scale=16)


@pytest.fixture(scope="module")
def corrupted_release(tree, tmp_path_factory) -> Path:
    return tensor_release.make_sample_release(tree, tmp_path_factory.mktemp("corrupt_release") / "release",
                                              corrupted=True)


@pytest.fixture(scope="module")
def hub(corrupted_release, tmp_path_factory):
    out = tmp_path_factory.mktemp("corrupt_hub") / "genimage-cl"
    return publish.build_mirror(kinds.open_source(corrupted_release), out, log=lambda line: None)


def literal_recipe(x: torch.Tensor, corruption: str) -> torch.Tensor:
    """docs/paper-loader.md#corruption-recipe written out plainly, as the corruption script does it."""
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    x = x[: len(x) // 10 * 10]
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float32).view(1, 3, 1, 1)
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float32).view(1, 3, 1, 1)
    x = x * std + mean
    out = torch.zeros_like(x)
    for i in range(len(x)):
        image = x[i]
        if corruption == "gaussian_noise":
            out[i] = image + torch.normal(0, 0.18, size=image.size())
        elif corruption == "gaussian_blur":
            out[i] = torch.from_numpy(np.clip(skimage.filters.gaussian(image.numpy(), sigma=3, channel_axis=0), 0, 1))
        elif corruption == "saturate":
            hsv = skimage.color.rgb2hsv(image.numpy(), channel_axis=0)
            hsv = np.clip(hsv * 2 + 0, 0, 1)
            out[i] = torch.from_numpy(np.clip(skimage.color.hsv2rgb(hsv, channel_axis=0), 0, 1))
        else:
            c = 0.6 * np.random.choice([-1, 1], 1)[0]
            m = skimage.transform.AffineTransform(rotation=c).params
            a1, a2, b1, b2 = m[0, 0], m[0, 1], m[1, 0], m[1, 1]
            aff = skimage.transform.AffineTransform(rotation=c, translation=[32 * (1 - a1 - a2), 32 * (1 - b1 - b2)])
            warped = skimage.transform.warp(image.numpy().transpose(1, 2, 0), inverse_map=aff)
            out[i] = torch.from_numpy(np.ascontiguousarray(np.clip(warped, 0, 1).transpose(2, 0, 1)))
    return out


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (a.dtype == b.dtype == torch.float32 and a.shape == b.shape
            and torch.equal(a.view(torch.int32), b.view(torch.int32)))


def _test_pair(root: Path, generator: str, task: int, source: str) -> release.Pair:
    return next(p for p in kinds.open_source(root).pairs
                if (p.generator, p.task, p.split, p.source) == (generator, task, "test", source))


@pytest.mark.parametrize("corruption", corruption_recipe.CORRUPTIONS)
def test_recipe_equals_the_literal_recipe(corrupted_release, corruption):
    x = torch.load(_test_pair(corrupted_release, "adm", 0, "ai").x_path, weights_only=True)
    assert len(x) == 11
    ours = corruption_recipe.corrupt(x, corruption)
    assert ours.shape == (10, 3, 64, 64)
    assert same_bits(ours, literal_recipe(x, corruption))
    assert not same_bits(ours, corruption_recipe.unnormalize(x[:10]))  # the corruption changed something


def test_copies_found_in_both_layouts(corrupted_release):
    source = kinds.open_source(corrupted_release, ORDER)
    copies, problems = source.corrupted_copies()
    assert problems == []
    assert set(copies) == {release.CopyKey(g, k, s, c) for k, g in enumerate(ORDER) for s in tables.SOURCES
                           for c in corruption_recipe.CORRUPTIONS}
    noise = copies[release.CopyKey("adm", 0, "ai", "gaussian_noise")]
    rotate = copies[release.CopyKey("adm", 0, "ai", "rotate")]
    assert (noise.parent / "X.pt").is_file()  # beside X.pt, as the loaders read them
    assert rotate.parent.relative_to(corrupted_release).parts[-4:] == ("ADM", "disjoint", "test", "ai")


def test_disjoint_corrupted_configs_are_the_release_bit_for_bit(hub, corrupted_release):
    from datasets import load_dataset

    for name in ("disjoint-gaussian_noise", "disjoint-gaussian_blur", "disjoint-saturate", "disjoint-rotate",
                 "adm-task0-rotate", "vqdm-task5-saturate"):
        assert name in hub.corrupted_configs
    source = kinds.open_source(corrupted_release, ORDER)
    copies, _ = source.corrupted_copies()
    clean = load_dataset(str(hub.out), "disjoint", split="test")
    clean_rows = {row["file_name"]: row for row in clean.remove_columns("image")}
    for corruption in corruption_recipe.CORRUPTIONS:
        ds = load_dataset(str(hub.out), f"disjoint-{corruption}", split="test")
        assert list(ds.features) == ["pixels", "label", "task_label", "source", "generator", "task", "file_name"]
        tensors = paper_tensors(ds)
        assert sorted(tensors) == sorted((k, s) for k in range(6) for s in tables.SOURCES)
        for k, generator in enumerate(ORDER):
            for s in tables.SOURCES:
                want = torch.load(copies[release.CopyKey(generator, k, s, corruption)], weights_only=True)
                y = torch.load(_test_pair(corrupted_release, generator, k, s).y_path, weights_only=True)
                assert same_bits(tensors[k, s].X, want), (corruption, k, s)
                assert torch.equal(tensors[k, s].y, y[: len(want)])
        for row in ds.remove_columns("pixels"):
            assert row == clean_rows[row["file_name"]]  # the clean row it comes from
        names = ds["file_name"]
        indices = [release.release_index(n) for n in names]
        assert indices == [i for k in range(6) for _s in tables.SOURCES for i in range(10)]  # the release's order


def test_floats_stored_compactly(hub):
    path = hub.out / hub.corrupted_configs["disjoint-gaussian_noise"][0].corrupted["gaussian_noise"]["files"][0]["path"]
    column = pq.ParquetFile(path).metadata.row_group(0).column(0)
    assert column.path_in_schema == publish.FLOAT_LEAF
    assert "BYTE_STREAM_SPLIT" in column.encodings and column.compression == "ZSTD"
    assert hub.corrupted_bytes() < hub.corrupted_rows() * publish.corrupted_value_bytes()
    assert "corrupted ratio:" in publish.summary(hub)
    card = (hub.out / "README.md").read_text()
    assert "## Corrupted test copies" in card and "figures/corruptions.png" in card
    assert (hub.out / "figures" / "corruptions.png").is_file()
    from conversion.hub_copy import verify_copy

    checked = verify_copy.verify(hub.out, progress=False)  # page checksums, and rows against the card
    assert checked.problems == []


def test_release_without_copies_gives_the_same_copies(corrupted_release, tmp_path, build):
    bare = tmp_path / "bare"
    shutil.copytree(corrupted_release, bare, ignore=shutil.ignore_patterns("X_*.pt"))
    source = kinds.open_source(corrupted_release, ORDER)
    copies, _ = source.corrupted_copies()
    ds = build("disjoint-rotate", bare)["test"]
    tensors = paper_tensors(ds)
    for k, generator in enumerate(ORDER):
        for s in tables.SOURCES:
            want = torch.load(copies[release.CopyKey(generator, k, s, "rotate")], weights_only=True)
            assert same_bits(tensors[k, s].X, want)


def test_raw_tree_config_follows_the_recipe(tree, build):
    clean = build("adm-task0", tree)["test"]
    noisy = build("adm-task0-gaussian_blur", tree)["test"]
    assert len(noisy) == 20
    for s in tables.SOURCES:
        x = release.normalize(paper_tensors(clean, source=s, dtype="uint8")[0, s].X)
        got = paper_tensors(noisy, source=s)[0, s].X
        assert same_bits(got, literal_recipe(x, "gaussian_blur"))
    rows = [r for r in clean.remove_columns("image")]
    by_source = {s: [r for r in rows if r["source"] == tables.SOURCES.index(s)][:10] for s in tables.SOURCES}
    assert list(noisy.remove_columns("pixels")) == by_source["nature"] + by_source["ai"]


def _adm_release(corrupted_release, tmp_path) -> Path:
    root = tmp_path / "release"
    shutil.copytree(corrupted_release / "processedSingleGenerators" / "ADM", root / "processedSingleGenerators" / "ADM")
    return root


@pytest.mark.parametrize("damage, message", [
    (lambda x: x[:9], "9 rows, expected 10"),
    (lambda x: x.double(), "expected a torch.float32 tensor"),
    (lambda x: x[:, :, :32], "expected a torch.float32 tensor of shape [N, 3, 64, 64]"),
])
def test_bad_copy_is_one_line_and_its_part_left_out(corrupted_release, tmp_path, damage, message):
    root = _adm_release(corrupted_release, tmp_path)
    bad = next(root.rglob("ai/X_gaussian_noise.pt"))
    torch.save(damage(torch.load(bad, weights_only=True)), bad)
    source = kinds.open_source(root, ["adm"])
    copies, problems = source.corrupted_copies()
    assert [line for _key, line in problems] == [next(line for _k, line in problems)]
    line = problems[0][1]
    assert line.startswith(str(bad)) and message in line and "\n" not in line
    assert release.CopyKey("adm", 0, "nature", "gaussian_noise") in copies
    with pytest.raises(release.ReleaseError, match=str(bad)):
        source.corrupted_copy("adm", 0, "ai", "gaussian_noise")


def test_copy_in_no_known_part(corrupted_release, tmp_path):
    root = _adm_release(corrupted_release, tmp_path)
    stray = [root / "processedSingleGenerators" / "ADM" / "single_generator" / "0" / "train" / "ai" / "X_rotate.pt",
             root / "processedSingleGenerators" / "ADM" / "single_generator" / "3" / "val" / "ai" / "X_fog.pt"]
    for path in stray:
        shutil.copy(next(root.rglob("X_rotate.pt")), path)
    _copies, problems = kinds.open_source(root, ["adm"]).corrupted_copies()
    lines = sorted(line for _key, line in problems)
    assert len(lines) == 2
    assert lines[0].startswith(str(stray[0])) and "test parts" in lines[0]
    assert lines[1].startswith(str(stray[1])) and "unknown corruption 'fog'" in lines[1]


def test_publish_leaves_out_a_bad_part_only(corrupted_release, tmp_path, capsys):
    root = _adm_release(corrupted_release, tmp_path)
    bad = next(root.rglob("nature/X_saturate.pt"))
    torch.save(torch.load(bad, weights_only=True)[:5], bad)
    out = tmp_path / "hub"
    with pytest.raises(SystemExit) as done:
        cli.main(["publish", "--data-dir", str(root), "--out", str(out), "--corruptions", "gaussian_noise"])
    assert done.value.code == 0
    printed = capsys.readouterr().out
    assert f"corrupted copy left out: {bad}: 5 rows, expected 10" in printed
    mirror_configs = printed.split("corrupted configs:")[1].split("\n")[0]
    assert "adm-task0-saturate" not in mirror_configs and "adm-task0-rotate" in mirror_configs
    assert "adm-task3-gaussian_noise" in mirror_configs  # made with the recipe on request
    assert not (out / "data" / "adm" / "task0-saturate").exists()


def test_missing_extra_is_one_line(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "skimage", None)
    with pytest.raises(corruption_recipe.MissingExtra, match=r"pip install -e '\.\[corruptions\]' in the checkout"):
        corruption_recipe.require(["rotate"])
    assert corruption_recipe.require(["gaussian_noise"]) == ("gaussian_noise",)  # torch only


def test_publish_rejects_unknown_corruption(capsys, tmp_path):
    with pytest.raises(SystemExit):
        cli.main(["publish", "--data-dir", str(tmp_path), "--out", str(tmp_path / "o"), "--corruptions", "fog"])
    assert "unknown corruption(s) fog" in capsys.readouterr().err


def test_builder_names_a_bad_copy_before_writing(corrupted_release, tmp_path):
    from genimage_cl import GenImageCL

    root = _adm_release(corrupted_release, tmp_path)
    bad = next(root.rglob("ai/X_rotate.pt"))
    torch.save(torch.load(bad, weights_only=True)[:3], bad)
    builder = GenImageCL(config_name="adm-task0-rotate", data_dir=str(root), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(release.ReleaseError, match=f"^{bad}: 3 rows, expected 10"):
        builder.download_and_prepare()


def test_builder_without_scikit_image_is_one_line(tree, tmp_path, monkeypatch):
    from genimage_cl import GenImageCL

    monkeypatch.setitem(__import__("sys").modules, "skimage", None)
    builder = GenImageCL(config_name="adm-task0-rotate", data_dir=str(tree), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(corruption_recipe.MissingExtra, match=r"^the corruptions need scikit-image: pip install"):
        builder.download_and_prepare()


def test_adding_corruptions_later_builds_only_them(corrupted_release, tmp_path):
    root = tmp_path / "release"
    shutil.copytree(corrupted_release / "processedSingleGenerators" / "ADM", root / "processedSingleGenerators" / "ADM",
                    ignore=shutil.ignore_patterns("X_*.pt"))
    out = tmp_path / "hub"
    publish.build_mirror(kinds.open_source(root), out, log=lambda line: None)
    before = (out / "data" / "adm" / "task2" / "test-00000-of-00001.parquet").stat().st_mtime_ns
    lines = []
    mirror = publish.build_mirror(kinds.open_source(root), out, log=lines.append, corruption_names=("gaussian_noise",))
    assert all("kept; corrupted test copies now gaussian_noise" in line for line in lines)
    assert (out / "data" / "adm" / "task2" / "test-00000-of-00001.parquet").stat().st_mtime_ns == before
    assert sorted(mirror.corrupted_configs) == sorted(
        [f"adm-task{k}-gaussian_noise" for k in range(6)] + ["adm-gaussian_noise"])
    mirror = publish.build_mirror(kinds.open_source(root), out, log=lambda line: None)  # and dropped again
    assert mirror.corrupted_configs == {} and not (out / "data" / "adm" / "task2-gaussian_noise").exists()


def test_a_corrupted_config_that_would_be_empty_fails_in_one_line(sample_root, tmp_path):
    """The sample tree has 2 test images per (task, source): every copy keeps floor(2/10)*10 = 0 rows."""
    from genimage_cl import GenImageCL

    builder = GenImageCL(config_name="sdv14-task0-gaussian_noise", data_dir=str(sample_root), cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="has 10 or more test images") as err:
        builder.download_and_prepare()
    assert "\n" not in str(err.value)


REVERSED = [(key, task) for task, key in enumerate(tables.paper_orders()["reversed"]["generators"])]
"""disjoint-reversed's parts (docs/paper-loader.md#task-orders): vqdm task 0, sdv14 task 1, ..., adm task 5."""


def _card_configs(out: Path) -> dict[str, dict]:
    import yaml

    card = yaml.safe_load((out / "README.md").read_text().split("---\n")[1])
    return {c["config_name"]: c for c in card["configs"]}


def test_disjoint_reversed_is_a_view_over_the_parts_folders(hub):
    from datasets import load_dataset

    declared = _card_configs(hub.out)["disjoint-reversed"]
    assert declared["data_files"] == [{"split": split, "path": [f"data/{g}/task{t}/{split}-*" for g, t in REVERSED]}
                                      for split in ("train", "test")]
    assert "default" not in declared and _card_configs(hub.out)["disjoint"]["default"] is True
    # the release's copies are of GenImage-Disjoint's parts only: none of disjoint-reversed's
    assert not [name for name in hub.corrupted_configs if name.startswith("disjoint-reversed-")]
    ds = load_dataset(str(hub.out), "disjoint-reversed", split="test")
    names = ds.features["generator"].names
    assert sorted({(names[g], t) for g, t in zip(ds["generator"], ds["task"])}, key=lambda p: p[1]) == REVERSED
    assert "`disjoint-reversed` | vqdm/0, sdv14/1, glide/2, midjourney/3, biggan/4, adm/5 |" in (
        hub.out / "README.md").read_text()


def test_disjoint_reversed_corrupted_copies_made_with_the_recipe(corrupted_release, tmp_path):
    """--corruptions makes them for disjoint-reversed's parts, which the release has none of; each equals the
    literal recipe on the paper loader's rows of that part's X.pt, and verify-copy finds no problem."""
    from datasets import load_dataset

    from conversion.hub_copy import verify_copy

    root = tmp_path / "release"
    for generator, task in REVERSED:
        for split in ("train", "test"):
            for s in tables.SOURCES:
                shutil.copytree(tensor_release.release_folder(corrupted_release, "original", generator, task, split, s),
                                tensor_release.release_folder(root, "original", generator, task, split, s))
    out = publish.build_mirror(kinds.open_source(root), tmp_path / "genimage-cl", log=lambda line: None,
                               corruption_names=("rotate",))
    assert "disjoint-reversed" in out.configs and "disjoint" not in out.configs
    assert "disjoint-reversed-rotate" in out.corrupted_configs
    declared = _card_configs(out.out)["disjoint-reversed-rotate"]
    patterns = [f"data/{g}/task{t}-rotate/test-*" for g, t in REVERSED]
    assert declared["data_files"] == [{"split": "test", "path": patterns}]
    tensors = paper_tensors(load_dataset(str(out.out), "disjoint-reversed-rotate", split="test"))
    for generator, task in REVERSED:
        for s in tables.SOURCES:
            x = torch.load(_test_pair(root, generator, task, s).x_path, weights_only=True)
            assert same_bits(tensors[task, s].X, literal_recipe(x, "rotate")), (generator, task, s)
    assert verify_copy.verify(out.out, progress=False).problems == []


def test_the_cards_corrupted_configs_are_a_table_and_its_code_fits_the_hubs_boxes(hub):
    body = (hub.out / "README.md").read_text().split("\n---\n", 1)[1]
    section = body.split("## Corrupted test copies (robustness)\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert len(rows) == len(hub.corrupted_configs) == 28
    parts = hub.corrupted_configs["disjoint-rotate"]
    expected = sum(p.corrupted["rotate"]["num_examples"] for p in parts)
    assert f"| `disjoint-rotate` | `disjoint` | rotate | {expected:,} |" in rows
    assert "Configs: `" not in section, "no run-on line of inline code"
    assert [line for line in code_lines(body) if len(line) > 100] == []
