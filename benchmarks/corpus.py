"""A realistic synthetic GenImage corpus for benchmarks (real folder and file naming).

Natural images are quality-90 JPEGs of ImageNet-like sizes (about 120 KB at 500x375); AI images
are PNGs at each generator's size (about 450 KB at 512 px, 1.8 MB at 1024 px). Textures are
layered colour noise (coarse shapes, mid detail, fine grain) tuned to those file sizes, so decode,
resize and encode costs are those of real files. Names come from ``conversion.samples.genimage_tree``.

The corpus covers one config's (generator, task) parts: ``images`` files in all, spread evenly
over the parts, half AI and half natural, ``test_fraction`` of them in ``val/``.

Example:
  python -m benchmarks.corpus --out benchmarks/results/corpus --images 3000 --config sdv14
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from conversion.contract import configs, tables
from conversion.samples import genimage_tree
from conversion.sources.generator_folders import SPLIT_FOLDERS

NATURAL_SIZES = ((500, 375), (500, 375), (375, 500), (500, 333), (500, 500), (333, 500), (500, 400), (640, 480))
"""Common ImageNet train sizes, the landscape 500x375 twice as often."""

NATURAL_TEXTURE = (45.0, 10.0)
AI_TEXTURE = (10.0, 2.0)
"""(fine detail, pixel grain) amplitudes giving realistic JPEG and PNG sizes."""

MANIFEST = "corpus.json"
CHUNK = 20
"""Images per pool task (each chunk has its own seed, so the bytes do not depend on num_proc)."""


def layered_texture(rng: np.random.Generator, width: int, height: int, fine: float, grain: float) -> np.ndarray:
    """Colour noise at three scales plus grain, as uint8 RGB of shape (height, width, 3)."""
    out = np.zeros((height, width, 3), np.float32)
    for divisor, amplitude in ((32, 90.0), (8, 40.0), (2, fine)):
        coarse = rng.standard_normal((max(height // divisor, 2), max(width // divisor, 2), 3), dtype=np.float32)
        channels = [Image.fromarray(coarse[..., c], "F").resize((width, height), Image.BICUBIC) for c in range(3)]
        out += amplitude * np.stack([np.asarray(c) for c in channels], -1)
    out += grain * rng.standard_normal(out.shape, dtype=np.float32)
    return np.clip(out + 128, 0, 255).astype(np.uint8)


def _counts(images: int, parts: int, test_fraction: float) -> dict[str, int]:
    """Images per (part, split, source), so that ai and nature counts are equal."""
    per_source = max(images // (2 * parts), 1)
    test = round(per_source * test_fraction)
    return {"train": per_source - test, "test": test}


def _write_folder(job: tuple) -> dict[str, int]:
    """Write images ``start`` to ``stop`` of one (part, split), AI and natural. Returns file and byte counts."""
    root, p_index, key, task, s_index, split, folder, start, stop, seed = job
    generator = tables.generators()[key]
    base = genimage_tree.generator_folder(Path(root), generator, "nested")
    classes = tables.task_classes()[task]
    rng = np.random.default_rng([seed, p_index, s_index, start])
    ai_dir, nature_dir = base / folder / "ai", base / folder / "nature"
    ai_dir.mkdir(parents=True, exist_ok=True)
    nature_dir.mkdir(parents=True, exist_ok=True)
    written = {"files": 0, "bytes": 0, "ai_files": 0, "ai_bytes": 0}
    for i in range(start, stop):
        label, number = classes[i % len(classes)], i // len(classes)
        ai = Image.fromarray(layered_texture(rng, generator.ai_size, generator.ai_size, *AI_TEXTURE))
        ai_path = ai_dir / genimage_tree.ai_file_name(generator, label, number)
        ai.save(ai_path, format="PNG")
        width, height = NATURAL_SIZES[i % len(NATURAL_SIZES)]
        nature = Image.fromarray(layered_texture(rng, width, height, *NATURAL_TEXTURE))
        nature_path = nature_dir / genimage_tree.nature_file_name(label, split, number)
        nature.save(nature_path, format="JPEG", quality=90)
        ai_bytes = ai_path.stat().st_size
        written["files"] += 2
        written["ai_files"] += 1
        written["ai_bytes"] += ai_bytes
        written["bytes"] += ai_bytes + nature_path.stat().st_size
    return written


def made_before(manifest_path: Path, arguments: dict, what: str) -> dict | None:
    """The manifest at ``manifest_path`` if it was made with ``arguments``; None if there is none; an error
    naming the folder if it holds ``what`` made otherwise."""
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text())
    if manifest["arguments"] != arguments:
        raise ValueError(f"{manifest_path.parent} holds a different {what} ({manifest_path}); remove it or choose "
                         "another folder")
    return manifest


def begin(root: Path, manifest_name: str, arguments: dict, what: str) -> dict | None:
    """The manifest of the ``what`` made under ``root`` with ``arguments`` (:func:`made_before`), or None once
    ``root`` is ready for a fresh one and marked as begun by this run. A ``root`` that a run of ours began and
    did not finish (killed) is emptied first; one holding anything else is refused, naming it: only what a
    run of ours wrote is deleted."""
    manifest_path = root / manifest_name
    done = made_before(manifest_path, arguments, what)
    if done is not None and not done.get("unfinished"):
        return done
    if done is not None:
        shutil.rmtree(root)
    elif root.exists() and any(root.iterdir()):
        raise ValueError(f"{root} holds files that no benchmark run wrote (it has no {manifest_name}): choose "
                         "another folder or empty it")
    root.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps({"arguments": arguments, "unfinished": True}))
    return None


def finish(root: Path, manifest_name: str, arguments: dict, entries: dict) -> dict:
    """Write the manifest of what :func:`begin` began under ``root``: ``arguments`` and ``entries``; return it."""
    manifest = {"arguments": arguments, **entries}
    (root / manifest_name).write_text(json.dumps(manifest, indent=1))
    return manifest


def make_corpus(
    root: str | os.PathLike,
    images: int = 3000,
    config: str = "sdv14",
    test_fraction: float = 0.05,
    seed: int = 0,
    num_proc: int | None = None,
) -> dict:
    """Write the corpus under ``root`` (the same arguments give the same bytes); return its manifest.

    Skips the work if ``root`` already holds a corpus made with the same arguments.
    """
    root = Path(root)
    arguments = {"images": images, "config": config, "test_fraction": test_fraction, "seed": seed}
    done = begin(root, MANIFEST, arguments, "corpus")
    if done is not None:
        return done
    parts = configs.config_parts()[config]
    counts = _counts(images, len(parts), test_fraction)
    for key, _task in parts:
        for folder in SPLIT_FOLDERS.values():
            for source in tables.SOURCES:
                base = genimage_tree.generator_folder(root, tables.generators()[key], "nested")
                (base / folder / source).mkdir(parents=True, exist_ok=True)
    jobs = [
        (str(root), p_index, key, task, s_index, split, folder, start, min(start + CHUNK, counts[split]), seed)
        for p_index, (key, task) in enumerate(parts)
        for s_index, (split, folder) in enumerate(SPLIT_FOLDERS.items())
        for start in range(0, counts[split], CHUNK)
    ]
    with multiprocessing.Pool(num_proc or os.cpu_count()) as pool:
        results = pool.map(_write_folder, jobs, chunksize=1)
    totals = {k: sum(r[k] for r in results) for k in ("files", "bytes", "ai_files", "ai_bytes")}
    return finish(root, MANIFEST, arguments, {"per_part_split_source": counts, **totals})


def describe(manifest: dict) -> str:
    nature_files = manifest["files"] - manifest["ai_files"]
    nature_bytes = manifest["bytes"] - manifest["ai_bytes"]
    return (
        f"{manifest['files']} images ({manifest['bytes'] / 1e6:.0f} MB) for config {manifest['arguments']['config']}: "
        f"{manifest['ai_files']} AI PNGs (mean {manifest['ai_bytes'] / max(manifest['ai_files'], 1) / 1e3:.0f} KB), "
        f"{nature_files} natural JPEGs (mean {nature_bytes / max(nature_files, 1) / 1e3:.0f} KB)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.corpus", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder to write the GenImage-like tree into")
    parser.add_argument("--images", type=int, default=3000, help="total number of images (default 3000)")
    parser.add_argument("--config", default="sdv14", choices=sorted(configs.config_parts()), metavar="CONFIG",
                        help="config whose (generator, task) parts the corpus covers (default sdv14; disjoint has "
                             "six generators and all their AI image sizes)")
    parser.add_argument("--test-fraction", type=float, default=0.05, help="share of images in val/ (default 0.05)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(describe(make_corpus(args.out, args.images, args.config, args.test_fraction, args.seed)))


if __name__ == "__main__":
    main()
