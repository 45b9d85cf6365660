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
from conversion.sources import kinds, raw_tree
from tests.helpers import code_lines, render_figures

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
    """Targets of every Markdown link and image, and of every HTML src/href, in the card's body; no URLs and no
    links to a heading of the card itself."""
    body = _body(mirror)
    links = re.findall(r"\]\(([^)\s]+)\)", body) + re.findall(r"(?:src|href)=\"([^\"]+)\"", body)
    return [link for link in links if not re.match(r"[a-z]+://", link) and not link.startswith("#")]


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


# --- the card a Hub visitor reads: license and gate, fields, code boxes, readable names, where the code is ---

LONG_REPO_ID = "a-research-group-name/genimage-cl-release-pixels"


def _render(mirror, repo_id: str) -> str:
    data = publish.card_data(mirror.configs, True, mirror.corrupted_configs)
    return card.render(data, mirror, repo_id)


def test_card_declares_the_terms_gates_access_and_links_each(release_mirror):
    from huggingface_hub import DatasetCard

    _, mirror = release_mirror
    text = (mirror.out / "README.md").read_text()
    data = DatasetCard(text).data.to_dict()
    facts = tables.dataset_facts()
    assert (data["license"], data["license_name"], data["license_link"]) == (
        "other", facts["license_name"], "https://github.com/GenImage-Dataset/GenImage/blob/main/License")
    assert data["extra_gated_prompt"] == tables.gate_prompt()
    license_section = _body(mirror).split("## License\n", 1)[1].split("\n## ", 1)[0]
    for url in ("https://creativecommons.org/licenses/by-nc-sa/4.0/legalcode",
                "https://github.com/GenImage-Dataset/GenImage/blob/main/License", "https://image-net.org/download.php"):
        assert f"]({url})" in license_section, url


def test_card_declares_the_fields_image_datasets_declare(release_mirror):
    from huggingface_hub import DatasetCard

    _, mirror = release_mirror
    data = DatasetCard((mirror.out / "README.md").read_text()).data.to_dict()
    assert data["task_categories"] == ["image-classification"]
    assert data["task_ids"] == ["multi-class-image-classification"]
    assert data["pretty_name"] == "GenImage-CL" and data["multilinguality"] == ["monolingual"]
    assert "extended|imagenet-1k" in data["source_datasets"]
    assert data["annotations_creators"] and data["language_creators"]
    rows = mirror.rows()
    assert rows < 1_000 and data["size_categories"] == ["n<1K"], rows  # from the copy's rows, not a constant
    assert [card.size_category(n) for n in (999, 1_000, 99_999, 100_000, 1_500_000, 10_000_000)] == [
        "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M"]
    body = _body(mirror)
    for heading in ("## Dataset Sources", "## Uses", "## Dataset Creation", "## Bias, Risks, and Limitations",
                    "## Data instance"):
        assert f"\n{heading}\n" in body, heading
    sources = body.split("## Dataset Sources\n", 1)[1].split("\n## ", 1)[0]
    assert "<https://github.com/GenImage-Dataset/GenImage>" in sources
    assert "<https://openreview.net/forum?id=CRyJiF03eT>" in sources


def test_every_code_line_fits_the_hubs_code_box_and_names_the_repository(release_mirror):
    _, mirror = release_mirror
    text = _render(mirror, LONG_REPO_ID)
    # the usage, timm and torch snippets, and the download command beside the timm task folders
    assert "<user>" not in text and text.count(LONG_REPO_ID) == 4
    for image_size in (raw_tree.ORIGINAL, 128):  # the torch snippets of copies of other images
        text += "\n" + card.image_text(image_size, "decode", LONG_REPO_ID)["torch_usage"]
    long = [line for line in code_lines(text) if len(line) > 100]
    assert long == [], long


def test_the_data_instance_is_the_default_configs_first_train_row(release_mirror, tmp_path):
    _, mirror = release_mirror
    body = _body(mirror)
    default = card.default_config(mirror.configs)
    first = datasets.load_dataset(str(mirror.out), default, split="train", cache_dir=str(tmp_path / "cache"))[0]
    instance = body.split("## Data instance\n", 1)[1].split("\n## ", 1)[0]
    assert f"The first train row of `{default}`" in instance
    wnid = tables.wnids()[first["label"]]
    assert f'    "label": {first["label"]},  # {wnid} ({tables.readable_names()[first["label"]]})' in instance
    assert f'    "file_name": "{first["file_name"]}",' in instance
    assert f"size={first['image'].width}x{first['image'].height}>" in instance


def test_readable_names_are_a_collapsed_table_and_a_documented_call(release_mirror):
    _, mirror = release_mirror
    body = _body(mirror)
    table = body.split("<summary>Readable names of the", 1)[1].split("</details>", 1)[0]
    rows = [line for line in table.splitlines() if re.match(r"\| \d", line)]
    assert len(rows) == 100 * len({p.task for p in mirror.parts}) == 600
    assert "| 1 | 0 | 217 | n02102040 | English_springer |" in rows  # ImageNet-1k's class 217
    assert "| 3 | 45 | 134 | n02012849 | crane |" in rows  # one of the two classes named crane
    assert "from conversion.contract.tables import readable_names" in body
    assert tables.readable_names()[217] == "English_springer"


def test_the_card_says_where_the_project_is_or_what_to_do(release_mirror, monkeypatch):
    from conversion.hub_copy import card_tables

    _, mirror = release_mirror
    monkeypatch.setattr(card_tables, "project_urls", lambda: [])
    assert card_tables.NO_PROJECT_URL in _render(mirror, LONG_REPO_ID)
    assert [note.split(":")[0] for note in card.publisher_notes(None)] == ["card", "card"]
    assert "--repo-id USER/NAME --dry-run" in card.publisher_notes(None)[0]
    assert "[project.urls]" in card.publisher_notes(LONG_REPO_ID)[0]
    url = "https://github.com/example/genimage-cl"
    monkeypatch.setattr(card_tables, "project_urls", lambda: ["Homepage, https://example.org", f"Repository, {url}"])
    text = _render(mirror, LONG_REPO_ID)
    assert card_tables.NO_PROJECT_URL not in text and text.count(f"<{url}>") == 2
    assert card.publisher_notes(LONG_REPO_ID) == []
    assert card_tables.project_url(["Source, https://a.example", "Homepage, https://b.example"]) == "https://a.example"


def test_card_gives_timm_every_tasks_folder_and_the_target_keys(release_mirror):
    _, mirror = release_mirror
    text = (mirror.out / "README.md").read_text()
    folders = sorted(p.relative_to(mirror.out).as_posix() for p in (mirror.out / "data").glob("*/task*"))
    assert folders == sorted(f"data/{generator}/task{task}" for generator, task in PARTS)
    listed = [line for line in text.splitlines() if line.startswith("- ") and "`data/" in line]
    assert sorted(f for line in listed for f in line.split("`")[1::2]) == folders
    for key in ('`"label"`', '`"task_label"`', '`"source"`'):
        assert f"{key} (" in text
