"""The Hub copy's card: figures drawn from the published data and linked, differences with counts."""

from __future__ import annotations

import csv
import re
import shutil
from collections import Counter
from pathlib import Path

import datasets
import pytest
import yaml

from conversion.contract import tables
from conversion.hub_copy import card, owned_files, publish
from conversion.pixels import decode
from conversion.samples import tensor_release as release_writer
from conversion.samples.genimage_tree import KEPT, inject_defects, make_sample_tree
from conversion.sources import kinds
from tests.helpers import render_figures

PARTS = [("sdv14", t) for t in range(6)] + [("adm", 0), ("biggan", 1)]
DEFECT_GENERATORS = ["adm", "biggan", "glide", "sdv14", "sdv15"]


def _copy_parts(release: Path, root: Path, parts) -> Path:
    for generator, task in parts:
        for split in ("train", "test"):
            for source in tables.SOURCES:
                shutil.copytree(release_writer.release_folder(release, "original", generator, task, split, source),
                                release_writer.release_folder(root, "original", generator, task, split, source))
    return root


@pytest.fixture(scope="module")
def release_mirror(sample_release, tmp_path_factory):
    root = _copy_parts(sample_release, tmp_path_factory.mktemp("card_release") / "release", PARTS)
    out = tmp_path_factory.mktemp("card_hub") / "genimage-cl"
    return root, publish.build_mirror(kinds.open_source(root), out, log=lambda line: None)


@pytest.fixture(scope="module")
def defect_mirror(tmp_path_factory):
    root = make_sample_tree(tmp_path_factory.mktemp("defects") / "GenImage", generators=DEFECT_GENERATORS)
    expected = inject_defects(root)
    out = tmp_path_factory.mktemp("defect_hub") / "genimage-cl"
    return expected, publish.build_mirror(kinds.open_source(root), out, log=lambda line: None)


def _body(mirror) -> str:
    return (mirror.out / "README.md").read_text().split("\n---\n", 1)[1]


def _local_links(mirror) -> list[str]:
    """Targets of every Markdown link and image, and of every HTML src/href, in the card's body; no URLs."""
    body = _body(mirror)
    links = re.findall(r"\]\(([^)\s]+)\)", body) + re.findall(r"(?:src|href)=\"([^\"]+)\"", body)
    return [link for link in links if not re.match(r"[a-z]+://", link)]


def test_card_links_only_files_in_the_folder(release_mirror):
    _, mirror = release_mirror
    local = _local_links(mirror)
    assert local, "the card links no local file"
    for link in local:
        assert not link.startswith("/") and ".." not in Path(link).parts, link
        assert (mirror.out / link).is_file(), link
    figures = sorted(p.relative_to(mirror.out).as_posix() for p in (mirror.out / "figures").iterdir())
    assert sorted(local) == figures
    assert not [p for p in mirror.out.rglob("*.py")]


def test_a_grid_per_generator_and_a_chart_per_task(release_mirror):
    _, mirror = release_mirror
    figures = mirror.out / "figures"
    expected = {f"samples-{g}.png" for g, _ in PARTS} | {f"balance-{g}-task{t}.png" for g, t in PARTS}
    assert {p.name for p in figures.iterdir()} == expected
    shipped = {path for path, _ in mirror.files()}
    assert {f"figures/{name}" for name in expected} <= shipped
    body = _body(mirror)
    for generator, task in PARTS:
        display = tables.generators()[generator].display_name
        assert f"![{display} task {task}: images per class](figures/balance-{generator}-task{task}.png)" in body


def test_figures_are_those_of_the_built_configs(release_mirror, build, tmp_path):
    """Drawn from label columns and a few row groups, yet byte for byte what render_figures draws from the
    full config."""
    root, mirror = release_mirror
    drawn = render_figures(build("sdv14", root), tmp_path)
    assert sorted(drawn["balance"]) == [("sdv14", t) for t in range(6)]
    for path in [drawn["samples"]["sdv14"], *drawn["balance"].values()]:
        assert path.read_bytes() == (mirror.out / "figures" / path.name).read_bytes(), path.name


def test_stale_figures_are_removed_and_missing_ones_redrawn(release_mirror, tmp_path):
    root, mirror = release_mirror
    out = tmp_path / "genimage-cl"
    shutil.copytree(mirror.out, out)
    (out / "figures" / "samples-adm.png").unlink()
    (out / "figures" / "samples-wukong.png").write_bytes(b"old")
    publish.records(out).claim(owned_files.CARD_GROUP, ["figures/samples-wukong.png"])  # drawn by an earlier run
    again = publish.build_mirror(kinds.open_source(root), out, log=lambda line: None)
    assert (out / "figures" / "samples-adm.png").read_bytes() == (
        mirror.out / "figures" / "samples-adm.png").read_bytes()
    assert not (out / "figures" / "samples-wukong.png").exists()
    assert (out / "README.md").read_text() == (mirror.out / "README.md").read_text().replace(str(mirror.out), str(out))
    assert len(again.figure_paths()) == len(mirror.figure_paths())


def test_release_card_says_there_are_no_differences(release_mirror):
    _, mirror = release_mirror
    body = _body(mirror)
    assert card.NO_DIFFERENCES in body
    assert "Files left out" not in body and "kept, release dropped" not in body
    assert not (mirror.out / publish.LISTING).exists()


def test_load_dataset_ignores_the_figures(release_mirror, tmp_path, monkeypatch):
    _, mirror = release_mirror
    configs = yaml.safe_load((mirror.out / "README.md").read_text().split("---\n")[1])["configs"]
    patterns = [p for c in configs for f in c["data_files"]
                for p in ([f["path"]] if isinstance(f["path"], str) else f["path"])]
    assert patterns and all(p.startswith("data/") for p in patterns)
    monkeypatch.chdir(mirror.out.parent)
    loaded = datasets.load_dataset(mirror.out.name, "sdv14", cache_dir=str(tmp_path))
    for split in ("train", "test"):
        assert len(loaded[split]) == sum(p.splits[split]["num_examples"] for p in mirror.configs["sdv14"])
        assert {image.size for image in loaded[split]["image"]} == {(64, 64)}


def _differences_table(body: str) -> dict[str, dict[str, int]]:
    """The differences section's table: {generator: {column: count}}."""
    section = body[body.index("## Differences from the original release"):body.index("## License")]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    head = [cell.strip() for cell in rows[0]]
    return {cells[0].strip(): {h: int(c) for h, c in zip(head[1:], cells[1:])} for cells in rows[2:]}


def test_raw_tree_card_counts_skips_and_kept_release_dropped(defect_mirror):
    expected, mirror = defect_mirror
    body = _body(mirror)
    assert card.NO_DIFFERENCES not in body and "built from the raw GenImage files" in body
    skipped = {path: kind for path, kind in expected.items() if kind not in (KEPT, decode.RELEASE_DROPPED)}
    dropped = [path for path, kind in expected.items() if kind == decode.RELEASE_DROPPED]
    assert skipped and dropped
    assert f"it\"): {len(dropped)} image(s) in the builds counted here" in body
    assert f"with its reason: {len(skipped)} file(s) in the builds counted here" in body
    table = _differences_table(body)
    generator_of = {f"{tables.generators()[g].top_folder}/": g for g in DEFECT_GENERATORS}

    def generator(path: str) -> str:
        return next(g for top, g in generator_of.items() if path.startswith(top))

    assert {g: sum(v for k, v in row.items() if k.startswith("skipped: ")) for g, row in table.items()} == \
        dict(Counter(generator(p) for p in skipped))
    assert {g: row["kept, release dropped"] for g, row in table.items() if row["kept, release dropped"]} == \
        dict(Counter(generator(p) for p in dropped))
    assert table["sdv14"]["skipped: decompression bomb"] == 1


def test_raw_tree_card_links_its_figures(defect_mirror):
    _, mirror = defect_mirror
    assert sorted(mirror.figures) == DEFECT_GENERATORS
    links = _local_links(mirror)
    assert len(mirror.figure_paths()) == len(DEFECT_GENERATORS) * 7
    assert sorted(links) == sorted(
        [publish.LISTING] + [p.relative_to(mirror.out).as_posix() for p in mirror.figure_paths()])
    for link in links:
        assert (mirror.out / link).is_file(), link
    assert publish.LISTING in {path for path, _ in mirror.files()}


def test_raw_tree_copy_lists_each_file_left_out_or_kept_differently(defect_mirror):
    expected, mirror = defect_mirror
    with open(mirror.out / publish.LISTING, newline="", encoding="utf-8") as f:
        listed = {row["path"]: row["reason"] for row in csv.DictReader(f)}
    kinds = {path: decode.RELEASE_DROPPED if reason.startswith(decode.RELEASE_DROPPED) else reason.split(":", 1)[0]
             for path, reason in listed.items()}
    assert kinds == \
        {path: kind for path, kind in expected.items() if kind != KEPT}


def test_card_gives_timm_every_tasks_folder_and_the_target_keys(release_mirror):
    _, mirror = release_mirror
    text = (mirror.out / "README.md").read_text()
    folders = sorted(p.relative_to(mirror.out).as_posix() for p in (mirror.out / "data").glob("*/task*"))
    assert folders == sorted(f"data/{generator}/task{task}" for generator, task in PARTS)
    listed = [line for line in text.splitlines() if line.startswith("- ") and "`data/" in line]
    assert sorted(f for line in listed for f in line.split("`")[1::2]) == folders
    for key in ('`"label"`', '`"task_label"`', '`"source"`'):
        assert f"{key} (" in text
