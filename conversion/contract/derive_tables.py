"""Derive the project's tables in ``dictionaries/`` from the reference files (see ``docs/README.md#reference-files``).

Run ``python -m conversion dictionaries --reference ../shared/reference``. The output is
byte-for-byte reproducible, and ``tests/contract/test_tables.py`` checks the committed tables
against it. Sources (all in the reference folder unless said otherwise):

* ``imagenet_class_index.json``: standard ImageNet-1k order (sorted wnids) and readable names.
* ``map_clsloc.txt``: the ILSVRC2015 clsloc ids (1..1000) of every wnid.
* ``ILSVRC2015_clsloc_validation_ground_truth.txt``: clsloc id of each ILSVRC2012 val image.
* ``tiny_imagenet_wnids.txt``: the 200 Tiny-ImageNet classes.
* ``release_class_sets.json``: the CL release's seven class sets and task order.
* ``genimage_checksums.csv``: md5 of every GenImage zip part.
* ``docs/genimage-tree.md#generators`` (the generator table, read from that page) and
  ``docs/release.md#pixel-pipeline`` (the pixel constants below).
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from conversion import atomic_files
from conversion.contract import tables

# docs/release.md#pixel-pipeline: torchvision Normalize constants and the release's image size.
RELEASE_PIXELS = {
    "image_size": 64,
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "_source": "docs/release.md#pixel-pipeline: ToTensor, Normalize(mean, std), 64x64",
}

GENERATOR_TABLE_HEADER = "| key | display name | top folder | inner folder | AI file name (example) | AI size |"


def _dump_json(obj) -> str:
    """JSON with one table row per line, so that diffs of the tables stay readable."""
    if isinstance(obj, dict):
        body = ",\n".join(f"  {json.dumps(k)}: {_dump_value(v)}" for k, v in obj.items())
        return "{\n" + body + "\n}\n"
    raise TypeError(type(obj))


def _dump_value(value) -> str:
    if isinstance(value, list) and value and isinstance(value[0], (list, dict)):
        rows = ",\n".join("    " + json.dumps(row, ensure_ascii=False) for row in value)
        return "[\n" + rows + "\n  ]"
    return json.dumps(value, ensure_ascii=False)


def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def imagenet_classes(reference: Path) -> dict:
    index = json.loads((reference / "imagenet_class_index.json").read_text())
    clsloc = {}
    for line in _read_lines(reference / "map_clsloc.txt"):
        wnid, cid, _name = line.split()
        clsloc[wnid] = int(cid)
    rows = []
    for i in range(len(index)):
        wnid, name = index[str(i)]
        rows.append([i, wnid, clsloc[wnid], name])
    wnids = [r[1] for r in rows]
    if wnids != sorted(wnids) or len(set(wnids)) != 1000 or set(clsloc) != set(wnids):
        raise ValueError("imagenet_class_index.json and map_clsloc.txt disagree on the 1000 classes")
    if sorted(clsloc.values()) != list(range(1, 1001)):
        raise ValueError("map_clsloc.txt ids are not 1..1000")
    return {
        "_source": "imagenet_class_index.json (index, wnid, name) joined with map_clsloc.txt (clsloc id)",
        "columns": ["index", "wnid", "clsloc_id", "name"],
        "rows": rows,
    }


def val_wnids(reference: Path, classes: dict) -> str:
    by_clsloc = {row[2]: row[1] for row in classes["rows"]}
    ids = _read_lines(reference / "ILSVRC2015_clsloc_validation_ground_truth.txt")
    if len(ids) != 50000:
        raise ValueError(f"expected 50000 validation labels, found {len(ids)}")
    return "".join(by_clsloc[int(i)] + "\n" for i in ids)


def release_tasks(reference: Path, generators: list[dict], classes: dict) -> dict:
    release = json.loads((reference / "release_class_sets.json").read_text())
    key_of_top = {g["top_folder"]: g["key"] for g in generators}
    clsloc = {row[1]: row[2] for row in classes["rows"]}
    tiny = set(_read_lines(reference / "tiny_imagenet_wnids.txt"))
    sets = release["class_sets"]
    task_sets = [sorted(sets[name], key=clsloc.__getitem__) for name in release["task_order"]]
    joint = sorted(sets["joint"], key=clsloc.__getitem__)
    seen: set[str] = set()
    for wnids in task_sets:
        if len(set(wnids)) != 100 or seen & set(wnids) or tiny & set(wnids):
            raise ValueError("release task class sets must be 100 distinct wnids, disjoint, outside Tiny-ImageNet")
        seen |= set(wnids)
    if not set(joint) <= tiny:
        raise ValueError("the joint class set must lie inside Tiny-ImageNet")
    return {
        "_source": "release_class_sets.json; each class list ordered by clsloc id, so position = task_label",
        "task_order": [key_of_top[name] for name in release["task_order"]],
        "tasks": task_sets,
        "joint": joint,
    }


def generator_rows(generator_table: Path, reference: Path) -> list[dict]:
    lines = generator_table.read_text().splitlines()
    start = lines.index(GENERATOR_TABLE_HEADER) + 2
    parts: dict[str, dict[str, str]] = {}
    with open(reference / "genimage_checksums.csv", newline="") as f:
        for row in csv.DictReader(f):
            name = row["originalFilename"]
            inner = re.sub(r"\.(z\d+|zip)$", "", name)
            previous = parts.setdefault(inner, {}).setdefault(name, row["md5Checksum"])
            if previous != row["md5Checksum"]:
                raise ValueError(f"{name} is listed twice with different md5")
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        key, display, top, inner, example, size = (c.strip().strip("`") for c in line.strip("|").split("|"))
        tag = example.split("_")[-2]
        zips = parts[inner]
        order = sorted(zips, key=lambda n: (n.endswith(".zip"), n))
        rows.append(
            {
                "key": key,
                "display_name": display,
                "top_folder": top,
                "inner_folder": inner,
                "tag": tag,
                "ai_example": example,
                "ai_size": int(size),
                "zip_parts": [[n, zips[n]] for n in order],
            }
        )
    return rows


def generate(reference: Path, generator_table: Path) -> dict[str, str]:
    """Return {file name: text} for every generated table."""
    classes = imagenet_classes(reference)
    generators = generator_rows(generator_table, reference)
    tiny = sorted(_read_lines(reference / "tiny_imagenet_wnids.txt"))
    return {
        tables.CLASSES_FILE: _dump_json(classes),
        tables.VAL_FILE: val_wnids(reference, classes),
        tables.TINY_FILE: "".join(w + "\n" for w in tiny),
        tables.TASKS_FILE: _dump_json(release_tasks(reference, generators, classes)),
        tables.GENERATORS_FILE: _dump_json(
            {"_source": "docs/genimage-tree.md#generators; zip parts and md5 from genimage_checksums.csv",
             "generators": generators}
        ),
        tables.PIXELS_FILE: _dump_json(RELEASE_PIXELS),
    }


def write(reference: Path, generator_table: Path, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in generate(reference, generator_table).items():
        path = out / name
        atomic_files.write_text(path, text)
        written.append(path)
    return written
