"""One task of a CL tensor release with as many train rows as asked, and its config built, for the training-speed
group (h).

A small sample tree is turned into a release by :func:`conversion.samples.tensor_release.make_sample_release`;
the two train pairs (ai, nature) of task 0 then have their rows repeated until the task holds ``rows`` train
rows (still the release pipeline's output bit for bit), and ``<generator>-task0`` is built from that
release with :class:`genimage_cl.GenImageCL`, which checks every row against ``X.pt``.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.corpus import begin, finish
from benchmarks.release_corpus import repeat_rows, sample_release
from conversion.contract import configs, tables
from conversion.sources import kinds

MANIFEST = "task-release.json"


def make_task_release(root: str | os.PathLike, rows: int, generator: str = "sdv14") -> dict:
    """Write the release under ``root/release`` and build its task-0 config into ``root/cache`` (skipped if
    ``root`` already holds the same); return the manifest: the release, the config, the cache and the
    task's train ``X.pt``/``y.pt`` paths (ai then nature)."""
    from genimage_cl import GenImageCL

    root = Path(root)
    arguments = {"rows": rows, "generator": generator}
    done = begin(root, MANIFEST, arguments, "release")
    if done is not None:
        return done
    out = sample_release(root, generator, classes_per_task=4, images_per_class=4)
    pairs = [pair for pair in kinds.open_source(out, [generator]).pairs if pair.task == 0 and pair.split == "train"]
    pairs.sort(key=lambda pair: tables.SOURCES.index(pair.source), reverse=True)
    repeat_rows(pairs, rows)
    config = configs.task_config_name(generator, 0)
    builder = GenImageCL(config_name=config, data_dir=str(out), cache_dir=str(root / "cache"))
    builder.download_and_prepare()
    return finish(root, MANIFEST, arguments, {
        "release": str(out), "config": config, "cache": str(root / "cache"),
        "x": [str(pair.x_path) for pair in pairs], "y": [str(pair.y_path) for pair in pairs],
        "rows": builder.info.splits["train"].num_examples})
