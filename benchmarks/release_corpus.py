"""A CL tensor release of one generator with as many rows as asked, for the publish benchmark.

A small sample tree (:mod:`conversion.samples.genimage_tree`) is turned into a release by
:func:`conversion.samples.tensor_release.make_sample_release` (the release pipeline, step by step),
then every ``X.pt``/``y.pt`` pair's rows are repeated until the release holds ``rows`` rows in all
(24 pairs: 6 tasks, 2 splits, 2 sources). Repeated rows are still the release pipeline's output bit
for bit, and cost the same to check and encode as new ones; writing them takes seconds, where making
17,280 distinct images takes minutes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from benchmarks.corpus import begin, finish
from conversion.samples import genimage_tree, tensor_release
from conversion.sources import kinds

MANIFEST = "release-corpus.json"


def sample_release(root: Path, generator: str, classes_per_task: int, images_per_class: int) -> Path:
    """A sample release of ``generator`` written to ``root/release`` through a sample tree (removed after)."""
    tree = genimage_tree.make_sample_tree(root / "tree", generators=[generator], classes_per_task=classes_per_task,
                                          images_per_class=images_per_class, ai_scale=8)
    out = tensor_release.make_sample_release(tree, root / "release", generators=[generator])
    shutil.rmtree(tree)
    return out


def repeat_rows(pairs, rows: int) -> int:
    """Repeat the rows of each ``X.pt``/``y.pt`` pair in place until ``pairs`` hold ``rows`` rows in all, as
    evenly as possible (earlier pairs one more); return the rows written."""
    per_pair, extra = divmod(rows, len(pairs))
    written = 0
    for number, pair in enumerate(pairs):
        x = torch.load(pair.x_path, weights_only=True)
        y = torch.load(pair.y_path, weights_only=True)
        index = torch.arange(per_pair + (number < extra)) % len(x)
        torch.save(x[index].clone(), pair.x_path)
        torch.save(y[index].clone(), pair.y_path)
        written += len(index)
    return written


def make_release(root: str | os.PathLike, rows: int, generator: str = "sdv14") -> dict:
    """Write the release under ``root/release`` (skipped if ``root`` already holds the same one); return
    its manifest."""
    root = Path(root)
    arguments = {"rows": rows, "generator": generator}
    done = begin(root, MANIFEST, arguments, "release")
    if done is not None:
        return done
    out = sample_release(root, generator, classes_per_task=2, images_per_class=2)
    written = repeat_rows(kinds.open_source(out, [generator]).pairs, rows)
    return finish(root, MANIFEST, arguments, {"rows": written, "release": str(out)})
