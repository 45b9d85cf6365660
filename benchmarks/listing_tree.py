"""A GenImage tree shaped like one real generator, for what costs per listed file: planning, num_proc.

Planning only lists folders and parses names, so the files can be empty: 336,000 of them (SD v1.4's
162,000 AI and 162,000 natural images in ``train/``, 6,000 + 6,000 in ``val/``) are made with
``os.open``/``close`` in about a minute, once. Names are GenImage's
(:mod:`conversion.samples.genimage_tree`), spread evenly over the 1000 ImageNet classes as in the real
generator (162 train and 6 val images per class and source), so every task plans 32,400 train items
and the 400 classes of no task are excluded.

With ``images_from`` (a benchmark corpus of one task, :mod:`benchmarks.corpus`) the corpus's images are
hard-linked in and only the classes of the other tasks (and of none) get empty files, still 336,000
names in all: a build of that task converts the corpus's real images, and nothing else, while its
source lists a whole generator, as on the real tree.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.corpus import begin, finish
from conversion.contract import tables
from conversion.samples import genimage_tree
from conversion.sources import file_names
from conversion.sources.generator_folders import SPLIT_FOLDERS

PER_SOURCE = {"train": 162_000, "test": 6_000}
"""Files per source folder of one real generator (SD v1.4: 336,000 in all)."""
MANIFEST = "listing-tree.json"


def per_source_for(files: int) -> dict[str, int]:
    """Files per source folder for ``files`` in all, in the real generator's train/val proportions."""
    train = files * PER_SOURCE["train"] // (2 * sum(PER_SOURCE.values()))
    return {"train": train, "test": max(files // 2 - train, 0)}


def _labels_of(folder: Path, source: str, tag: str) -> set[int]:
    return {file_names.label_of(name, source, tag) for name in os.listdir(folder)} if folder.is_dir() else set()


def make_listing_tree(root: str | os.PathLike, generator: str = "sdv14", per_source: dict | None = None,
                      images_from: str | os.PathLike | None = None) -> dict:
    """Write the tree under ``root`` (skipped if it already holds the same one); return its manifest."""
    root = Path(root)
    per_source = dict(per_source or PER_SOURCE)
    arguments = {"generator": generator, "per_source": per_source,
                 "images_from": None if images_from is None else str(Path(images_from).resolve())}
    done = begin(root, MANIFEST, arguments, "listing tree")
    if done is not None:
        return done
    g = tables.generators()[generator]
    base = genimage_tree.generator_folder(root, g, "nested")
    corpus = None if images_from is None else genimage_tree.generator_folder(Path(images_from), g, "nested")
    taken = set()  # the classes of the tasks the corpus has images of: no empty file is named for them
    if corpus is not None:
        labels = {label for split_folder in SPLIT_FOLDERS.values() for source in tables.SOURCES
                  for label in _labels_of(corpus / split_folder / source, source, g.tag)}
        tasks = {tables.task_of_label()[label][0] for label in labels if label in tables.task_of_label()}
        taken = labels | {label for task in tasks for label in tables.task_classes()[task]}
    classes = [label for label in range(1000) if label not in taken]
    linked = empty = 0
    for split, split_folder in SPLIT_FOLDERS.items():
        for source in tables.SOURCES:
            folder = base / split_folder / source
            folder.mkdir(parents=True)
            real = []
            if corpus is not None and (corpus / split_folder / source).is_dir():
                real = sorted(os.listdir(corpus / split_folder / source))
                for name in real:
                    os.link(corpus / split_folder / source / name, folder / name)
            count = max(per_source[split] - len(real), 0)
            for i in range(count):
                label, number = classes[i % len(classes)], i // len(classes)
                if source == "ai":
                    name = genimage_tree.ai_file_name(g, label, number)
                else:
                    name = genimage_tree.nature_file_name(label, split, number)
                os.close(os.open(folder / name, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
            linked += len(real)
            empty += count
    return finish(root, MANIFEST, arguments, {"files": linked + empty, "images": linked, "empty_files": empty})


def describe(manifest: dict) -> str:
    return (f"{manifest['files']:,} files shaped like one real {manifest['arguments']['generator']} folder "
            f"({manifest['images']:,} real images, {manifest['empty_files']:,} empty files)")
