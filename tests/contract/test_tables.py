"""The committed tables equal what the derivation script makes, and hold the pinned facts."""

from __future__ import annotations

import pytest

from conversion.contract import derive_tables, tables
from tests.conftest import REFERENCE


@pytest.mark.skipif(not (REFERENCE / "reference").is_dir(), reason="../shared/reference is absent")
def test_committed_tables_equal_regenerated():
    generated = derive_tables.generate(REFERENCE / "reference",
                                       tables.DICTIONARIES.resolve().parent / "docs" / "genimage-tree.md")
    committed = {p.name for p in tables.DICTIONARIES.iterdir() if p.name in generated}
    assert committed == set(generated)
    for name, text in generated.items():
        assert (tables.DICTIONARIES / name).read_text() == text, f"{name} differs from the regenerated table"


def test_standard_order_is_sorted_wnids():
    wnids = tables.wnids()
    assert len(wnids) == 1000 and list(wnids) == sorted(wnids)
    assert wnids[0] == "n01440764" and tables.readable_names()[0] == "tench"


def test_clsloc_ids_are_a_permutation():
    assert sorted(tables.clsloc_of_label()) == list(range(1, 1001))
    assert tables.label_of_clsloc()[1] == tables.label_of_wnid()["n02119789"]  # map_clsloc.txt line 1: kit_fox


@pytest.mark.parametrize(
    "number, wnid, label",
    [(1, "n01751748", 65), (2, "n09193705", 970), (3, "n02105855", 230), (50000, "n02437616", 355)],
)
def test_val_labels_pinned(number, wnid, label):
    assert tables.val_labels()[number - 1] == label
    assert tables.wnids()[label] == wnid


def test_task_sets_are_disjoint_and_outside_tiny_imagenet():
    tiny = {tables.label_of_wnid()[w] for w in (tables.DICTIONARIES / tables.TINY_FILE).read_text().split()}
    tasks = [set(t) for t in tables.task_classes()]
    assert len(tiny) == 200 and len(tasks) == 6
    assert all(len(t) == 100 for t in tasks)
    assert len(set().union(*tasks)) == 600
    assert not tiny & set().union(*tasks)
    assert set(tables.joint_classes()) <= tiny


def test_task_classes_are_ordered_by_clsloc_id():
    clsloc = tables.clsloc_of_label()
    for task in tables.task_classes():
        ids = [clsloc[label] for label in task]
        assert ids == sorted(ids)


def test_task_order_and_generators():
    assert tables.task_order() == ("adm", "biggan", "midjourney", "glide", "sdv14", "vqdm")
    generators = tables.generators()
    assert list(generators) == ["adm", "biggan", "glide", "midjourney", "sdv14", "sdv15", "vqdm", "wukong"]
    assert generators["sdv14"].inner_folder == "imagenet_ai_0419_sdv4" and generators["sdv14"].tag == "sdv4"
    sdv15_parts = [name for name, _ in generators["sdv15"].zip_parts]
    assert len(sdv15_parts) == len(set(sdv15_parts))  # the checksum list names .z26 twice
    assert all(len(md5) == 32 for g in generators.values() for _, md5 in g.zip_parts)


def test_hand_maintained_license_and_citation():
    import re

    facts = tables.dataset_facts()
    assert facts["hub_license"] == "other" and facts["license"].startswith("CC BY-NC-SA 4.0")
    assert re.fullmatch(r"[a-z0-9-]+", facts["license_name"]), "the Hub takes a lowercase, dash-separated name"
    urls = [t["url"] for t in facts["terms"]]
    assert facts["license_link"] in urls and "https://image-net.org/download.php" in urls
    prompt = tables.gate_prompt()
    assert all(url in prompt for url in urls[1:]), "the gate quotes GenImage's License and ImageNet's terms"
    assert "We prohibits You from using the dataset or any derivative works for commercial purposes" in prompt
    assert "1. Researcher shall use the Database only for non-commercial research and educational purposes." in prompt
    citation = tables.citation()
    assert citation.startswith("@inproceedings{zhu2023genimage,") and "@misc{genimage_cl," in citation
    assert citation.count("{") == citation.count("}")
    cl_entry = citation[citation.index("@misc{genimage_cl,"):]
    assert "url          = {https://openreview.net/forum?id=CRyJiF03eT}" in cl_entry and "year" in cl_entry
    assert "https://github.com/JoshuaAndle/EpochLoss_CL" in cl_entry and "author" not in cl_entry, (
        "no author list that no public source checked here gives")


def test_paper_orders_and_their_configs():
    """docs/paper-loader.md#task-orders: the standard order is the release's task order (GenImage-Disjoint);
    the reversed one reads class set k of (VQDM, SD v1.4, GLIDE, Midjourney, BigGAN, ADM)[k]."""
    from conversion.contract import configs

    orders = tables.paper_orders()
    assert set(orders) == {"standard", "reversed"}
    assert orders["standard"]["generators"] == tables.task_order()
    assert orders["reversed"]["generators"] == ("vqdm", "sdv14", "glide", "midjourney", "biggan", "adm")
    parts = configs.config_parts()
    for order in orders.values():
        assert parts[order["config"]] == [(key, task) for task, key in enumerate(order["generators"])]
    assert parts["disjoint-reversed"] == [("vqdm", 0), ("sdv14", 1), ("glide", 2), ("midjourney", 3),
                                          ("biggan", 4), ("adm", 5)]
    assert len(parts) == 58 and configs.resolve("Disjoint-Reversed") == "disjoint-reversed"
    assert configs.corrupted_configs()["disjoint-reversed-rotate"] == ("disjoint-reversed", "rotate")
