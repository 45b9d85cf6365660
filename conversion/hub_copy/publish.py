"""Build the Hub copy: Parquet shards per (generator, task), a card declaring every config as a view.

Each (generator, task) present in the source is built once with the ``<key>-task<k>`` config and
written where ``Dataset.push_to_hub(repo, config_name="<key>-task<k>", data_dir="data/<key>/task<k>")``
puts it: ``data/<key>/task<k>/<split>-NNNNN-of-NNNNN.parquet``, sharded the same way (contiguous
shards of at most ``max_shard_size`` estimated bytes). Every config (generator, generator-task,
``disjoint``, ``disjoint-reversed``) whose parts are all present is declared in README.md as a list of those shard
patterns, with the same ``dataset_info`` push_to_hub writes; no row is stored twice.

Images are the release's 64x64 pixels by default; ``image_size`` (another size, or ``"original"``: the
source files' bytes at full resolution, checked as ``check`` says) builds every part with that builder
keyword instead, from a raw tree only. A part's manifest records its image size and check, so a run
with other values rebuilds it: the parts of one card never mix sizes, and the card says which it holds.

Work happens in ``FOLDER/.publish`` (the datasets cache and the finished parts' manifests): a part
is written into a staging folder and renamed into ``data/`` when complete, then its manifest is
written, so an interrupted run leaves no partial part and a re-run skips finished ones. Each part's
build report is kept there too (for the card's differences section). The card's figures are drawn
into ``FOLDER/figures/`` from the finished shards on every run (cheap: label columns and a few row
groups), so they always match the data.

One pipeline: a cluster job array builds the parts one per job (:func:`build_parts_only`, no card),
the same way a single run builds them, so a final plain run finds every part done and writes the
very copy a single run writes.

One writer at a time: a publish holds FOLDER's lock (:mod:`conversion.folder_lock`), a part-only job
the lock of its part. README.md is removed before any part is rebuilt and written last, atomically,
after every part it declares has been checked against its shards (files, sizes, row counts), so a
killed re-publish leaves no card that disagrees with the shards. Shards that runs of ours wrote
under ``data/`` and no finished part lists (a part's old shards, parts no longer in the source) are
removed.

A run deletes or replaces only files that a run of ours recorded writing (:mod:`conversion.hub_copy.owned_files`):
a file it did not write in README.md, ``data/``, ``figures/`` or ``reports/`` stops it before any work,
and a source inside FOLDER (or FOLDER inside the source) is refused.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pyarrow.parquet as pq
from datasets.arrow_writer import (
    get_parquet_column_options,
    get_writer_batch_size_from_data_size,
    get_writer_batch_size_from_features,
)
from datasets.info import DatasetInfo, DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from datasets.utils.metadata import MetadataConfigs
from datasets.utils.py_utils import convert_file_size_to_int
from huggingface_hub import DatasetCardData

from conversion import atomic_files, folder_lock, local_paths, progress, regular_files, torch_workers
from conversion.builder import build_report, corrupted_rows
from conversion.builder.build_report import describe_images
from conversion.contract import configs, features, tables
from conversion.hub_copy import (
    card,
    card_differences,
    copy_figures,
    figure_drawing,
    owned_files,
    parquet_pages,
    shard_digests,
)
from conversion.hub_copy.parts import (
    CARD,
    DATA,
    MAX_SHARD_SIZE,
    SPLITS,
    Part,
    corrupted_dir,
    manifest_path,
    part_dir,
    report_path,
    shard_name,
)
from conversion.pixels import corruption_recipe, decode
from conversion.sources import base, kinds, raw_tree

STATE_DIR = folder_lock.STATE_DIR
LISTING = "reports/differences.csv"
"""Files left out and images kept that the release dropped, shipped with a copy built from a raw tree."""


def tensor_bytes(rows: int) -> int:
    """Bytes the release's float32 X and int64 y take for ``rows`` images."""
    size = tables.release_pixels()["image_size"]
    return rows * (3 * size * size * 4 + 8)


FLOAT_LEAF = f"{corrupted_rows.COLUMN}.list.element.list.element.list.element"
"""Parquet leaf column of the corrupted copies' float32 values (Array3D is stored as nested lists)."""


def write_float_parquet(ds: datasets.Dataset, path: Path, batch_size: int) -> None:
    """``ds`` as one Parquet file, as ``to_parquet`` writes it but with the float values stored compactly:
    BYTE_STREAM_SPLIT (each float's bytes in separate streams) then zstd, which suits noisy float32
    images best among Parquet's encodings; the other columns as datasets writes them."""
    options = get_parquet_column_options(ds.features, ds.features.arrow_schema)
    options["use_dictionary"] = [leaf for leaf in options["use_dictionary"] if leaf != FLOAT_LEAF]
    options["compression"] = {leaf: "zstd" for leaf in options["compression"]}
    options["column_encoding"] = {**options["column_encoding"], FLOAT_LEAF: "BYTE_STREAM_SPLIT"}
    with atomic_files.replacing(path) as tmp, pq.ParquetWriter(tmp, schema=ds.features.arrow_schema,
                                                               write_page_index=True,
                                                               **options, **parquet_pages.WRITE_OPTIONS) as writer:
        for batch in ds.with_format("arrow").iter(batch_size=batch_size):
            writer.write_table(batch)


@dataclass
class Mirror:
    """What the folder holds: its parts and the configs declared over them."""

    out: Path
    parts: list[Part]
    configs: dict[str, list[Part]]
    skipped_configs: dict[str, list[tuple[str, int]]]
    source_kind: str = kinds.RELEASE
    figures: dict[str, dict] = field(default_factory=dict)
    corrupted_configs: dict[str, list[Part]] = field(default_factory=dict)
    corrupted_problems: list[str] = field(default_factory=list)
    corrupted_figure: Path | None = None
    image_size: int | str = 64
    check: str = "decode"

    def rows(self) -> int:
        return sum(p.rows() for p in self.parts)

    def parquet_bytes(self) -> int:
        return sum(p.parquet_bytes() for p in self.parts)

    def tensor_bytes(self) -> int:
        return tensor_bytes(self.rows())

    def files(self) -> list[tuple[str, int]]:
        """(path in repo, bytes) of every file to upload."""
        found = [(f["path"], f["size"]) for p in self.parts for f in p.all_files()]
        for path in self.figure_paths():
            found.append((path.relative_to(self.out).as_posix(), path.stat().st_size))
        if self.source_kind == kinds.RAW_TREE:
            found.append((LISTING, (self.out / LISTING).stat().st_size))
        return found + [(CARD, (self.out / CARD).stat().st_size)]

    def figure_paths(self) -> list[Path]:
        drawn = self.figures.values()
        return [p for d in drawn for p in [d["samples"], *d["balance"].values()] if p is not None] + (
            [self.corrupted_figure] if self.corrupted_figure else [])

    def corrupted_rows(self) -> int:
        return sum(c["num_examples"] for p in self.parts for c in p.corrupted.values())

    def corrupted_bytes(self) -> int:
        return sum(p.corrupted_bytes() for p in self.parts)

    def reports(self) -> list[dict]:
        """The build report of every part."""
        return [build_report.load(report_path(self.out, p.generator, p.task)) for p in self.parts]


def _read_manifest(out: Path, generator: str, task: int) -> Part | None:
    try:
        return Part(**json.loads(regular_files.read_text(manifest_path(out, generator, task))))
    except (OSError, ValueError, TypeError):
        return None


def records(out: Path) -> owned_files.Records:
    """What runs of ours wrote into ``out``. A folder published before files were recorded gets its
    records from what it shows was ours: the finished parts' manifests, the card, listing and figures."""
    found = owned_files.Records(out, STATE_DIR)
    manifests = [] if found.exists() else sorted((out / STATE_DIR / "parts").glob("*.json"))
    if manifests:
        for path in manifests:
            part = _read_manifest(out, *_part_key(path.stem))
            if part is not None:
                found.claim(part.name, [f["path"] for f in part.all_files()])
        figures = [p.relative_to(out).as_posix() for p in (out / copy_figures.FIGURES_DIR).glob("*.png")]
        found.claim(owned_files.CARD_GROUP, [CARD, LISTING, *figures])
    return found


def _part_key(name: str) -> tuple[str, int]:
    generator, task = name.rsplit("-task", 1)
    return generator, int(task)


def check_paths(data_dir, out) -> tuple[Path, Path]:
    """``data_dir`` and ``out`` as plain local paths, refused if one lies inside the other: checked
    before anything is written (the entry point then opens the source)."""
    data_dir = local_paths.local_path(data_dir, "--data-dir")
    out = local_paths.output_folder(local_paths.local_path(out, "--out"), "--out")
    local_paths.refuse_nested(data_dir, "--data-dir", out, "--out")
    local_paths.state_folder(out / STATE_DIR)
    return data_dir, out


def check_options(source, image_size=64, check: str = "decode", corruption_names=()) -> int | str:
    """``image_size`` as a part records it (``None`` is ``"original"``); a ValueError, before anything is
    written, for an ``image_size``, ``check`` or corrupted copies that no build of the opened ``source`` takes."""
    image_size = raw_tree.ORIGINAL if image_size is None else image_size
    if image_size != raw_tree.ORIGINAL and (isinstance(image_size, bool) or not isinstance(image_size, int)
                                            or image_size <= 0):
        raise ValueError(f"image size must be a positive integer or {raw_tree.ORIGINAL!r}, got {image_size!r}")
    if check not in decode.CHECKS:
        raise ValueError(f"check must be one of {', '.join(decode.CHECKS)}, got {check!r}")
    if check != "decode" and image_size != raw_tree.ORIGINAL:
        raise ValueError(f"--check {check} needs --image-size {raw_tree.ORIGINAL}: converted pixels are always "
                         f"decoded in full")
    size = tables.release_pixels()["image_size"]
    if image_size != size:
        if corruption_names:
            raise ValueError(f"the corrupted test copies are the release's {size}x{size} pixels: --corruptions needs "
                             f"--image-size {size}, got {image_size}")
        if source.kind == kinds.RELEASE:
            raise ValueError(f"{source.root} is a tensor release: its images exist only as {size}x{size} pixels, so "
                             f"--image-size must be {size} (got {image_size}); publish from the raw GenImage tree "
                             f"for other sizes or the original files")
    return image_size


MANAGED = (CARD, DATA, copy_figures.FIGURES_DIR, LISTING.split("/")[0])
"""The places of ``out`` a publish writes (and may delete in): everything there must be recorded as ours."""


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_files.write_text(path, text)


def write_shards(ds: datasets.Dataset, folder: Path, split: str, max_shard_size: int, write=None) -> list[dict]:
    """Parquet shards of ``ds`` as push_to_hub writes them: same count, contiguous, same row groups
    (``write(shard, path, batch_size)`` writes one; default ``to_parquet``). Unlike push_to_hub, never
    more shards than rows (a row larger than ``max_shard_size`` is a shard of its own); an empty split
    is one empty shard, as push_to_hub writes it. Each file's name, size and sha256 are returned."""
    nbytes = ds._estimate_nbytes()  # the estimate push_to_hub shards by
    num_shards = max(1, min(len(ds), int(nbytes / max_shard_size) + 1))
    batch_size = (get_writer_batch_size_from_features(ds.features)
                  or get_writer_batch_size_from_data_size(len(ds), nbytes))
    files = []
    for index in range(num_shards):
        name = shard_name(split, index, num_shards)
        shard = ds.shard(num_shards=num_shards, index=index, contiguous=True)
        if write is None:
            shard.to_parquet(folder / name, batch_size=batch_size, **parquet_pages.WRITE_OPTIONS)
        else:
            write(shard, folder / name, batch_size)
        files.append({"name": name, "size": (folder / name).stat().st_size,
                      shard_digests.KEY: shard_digests.file_sha256(folder / name)})
    return files


def build_corrupted(source: base.Source, out: Path, part: Part, corruption: str, num_proc: int | None = None) -> dict:
    """Build ``<generator>-task<task>-<corruption>`` and move its shards into ``out/data/...`` in one rename
    (no files when the copy is empty: under 10 test rows per source)."""
    from conversion.builder.genimage_cl import GenImageCL

    state = out / STATE_DIR
    name = configs.corrupted_config_name(part.name, corruption)
    cache = state / "cache" / name
    staging = state / "staging" / name
    target = out / corrupted_dir(part.generator, part.task, corruption)
    owned = records(out)
    owned.delete_under(part.name, corrupted_dir(part.generator, part.task, corruption))
    builder = GenImageCL(config_name=name, source=source, cache_dir=str(cache))
    builder.download_and_prepare(num_proc=num_proc)
    entry = {"num_examples": builder.info.splits[corrupted_rows.SPLIT].num_examples, "num_bytes": 0, "files": []}
    if entry["num_examples"]:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        ds = builder.as_dataset(split=corrupted_rows.SPLIT)
        files = write_shards(ds, staging, corrupted_rows.SPLIT, part.max_shard_size, write_float_parquet)
        entry["num_bytes"] = ds._estimate_nbytes()
        folder = target.relative_to(out).as_posix()
        entry["files"] = [{"path": f"{folder}/{f['name']}", "size": f["size"], shard_digests.KEY: f[shard_digests.KEY]}
                          for f in files]
        del ds
        owned.claim(part.name, [f["path"] for f in entry["files"]])
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, target)
    shutil.rmtree(cache, ignore_errors=True)
    return entry


def build_part(source: base.Source, out: Path, generator: str, task: int, *args, **kwargs) -> Part:
    """Build ``<generator>-task<task>`` (and its corrupted copies) and move each into ``out/data/...`` in one
    rename (arguments: :func:`_build_part`'s). A build that fails or is interrupted removes its staging
    folders and caches: it leaves nothing half-written, and its re-run starts clean."""
    try:
        return _build_part(source, out, generator, task, *args, **kwargs)
    except BaseException:
        for kind in ("staging", "cache"):
            for folder in (out / STATE_DIR / kind).glob(f"{generator}-task{task}*"):
                shutil.rmtree(folder, ignore_errors=True)
        raise


def _build_part(source: base.Source, out: Path, generator: str, task: int, fingerprint: str, max_shard_size: int,
                num_proc: int | None = None, corruption_names: tuple = (), image_size=64,
                check: str = "decode") -> Part:
    from conversion.builder.genimage_cl import GenImageCL

    state = out / STATE_DIR
    cache = state / "cache" / f"{generator}-task{task}"  # one per part: parts may be built by parallel jobs
    staging = state / "staging" / f"{generator}-task{task}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    part = Part(generator, task, fingerprint, max_shard_size, image_size=image_size, check=check)
    builder = GenImageCL(config_name=part.name, source=source, cache_dir=str(cache), image_size=image_size, check=check)
    with build_report.named_at(Path(builder.cache_dir) / build_report.REPORT_FILE, report_path(out, generator, task)):
        builder.download_and_prepare(num_proc=num_proc)
    (report,) = build_report.find(builder.cache_dir)
    built = builder.as_dataset()
    for split in SPLITS:
        ds = built[split]
        sources_col = ds.data.column("source").to_pylist()
        with progress.hidden():
            files = write_shards(ds, staging, split, max_shard_size)
        part.splits[split] = {
            "num_examples": len(ds),
            "num_bytes": ds._estimate_nbytes(),
            "sources": {s: sources_col.count(i) for i, s in enumerate(tables.SOURCES)},
            "files": [{"path": f"{part_dir(generator, task)}/{f['name']}", "size": f["size"],
                       shard_digests.KEY: f[shard_digests.KEY]} for f in files],
        }
    del built
    target = out / part_dir(generator, task)
    owned = records(out)
    owned.delete_under(part.name, part_dir(generator, task))
    owned.claim(part.name, [f["path"] for s in part.splits.values() for f in s["files"]])
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)
    _write_atomic(report_path(out, generator, task), report.read_text())
    shutil.rmtree(cache, ignore_errors=True)
    return update_corrupted(source, out, part, corruption_names, num_proc)


def update_corrupted(source: base.Source, out: Path, part: Part, corruption_names: tuple,
                     num_proc: int | None = None) -> Part:
    """Give a built part exactly the corrupted copies named (building only those it lacks), then write
    its manifest: a part is finished only once its manifest says so."""
    for corruption in corruption_recipe.CORRUPTIONS:
        if corruption not in corruption_names:
            part.corrupted.pop(corruption, None)
            records(out).delete_under(part.name, corrupted_dir(part.generator, part.task, corruption))
        elif corruption not in part.corrupted:
            part.corrupted[corruption] = build_corrupted(source, out, part, corruption, num_proc)
    part.corrupted = {c: part.corrupted[c] for c in corruption_recipe.CORRUPTIONS if c in part.corrupted}
    _write_atomic(manifest_path(out, part.generator, part.task), json.dumps(part.__dict__, indent=1))
    return part


def dataset_info(name: str, parts: list[Part]) -> DatasetInfo:
    """The ``dataset_info`` push_to_hub writes for a config made of ``parts`` (sizes summed)."""
    splits = SplitDict()
    for split in SPLITS:
        splits.add(SplitInfo(name=split, num_bytes=sum(p.splits[split]["num_bytes"] for p in parts),
                             num_examples=sum(p.splits[split]["num_examples"] for p in parts)))
    info = DatasetInfo(config_name=name, features=features.features(), splits=splits,
                       download_size=sum(p.parquet_bytes() for p in parts),
                       dataset_size=sum(s.num_bytes for s in splits.values()))
    info.size_in_bytes = info.download_size + info.dataset_size
    return info


def corrupted_info(name: str, parts: list[Part], corruption: str) -> DatasetInfo:
    """``dataset_info`` of ``<config>-<corruption>``: one split, ``test``, float32 ``pixels``."""
    entries = [p.corrupted[corruption] for p in parts]
    splits = SplitDict()
    splits.add(SplitInfo(name=corrupted_rows.SPLIT, num_bytes=sum(e["num_bytes"] for e in entries),
                         num_examples=sum(e["num_examples"] for e in entries)))
    info = DatasetInfo(config_name=name, features=corrupted_rows.corrupted_features(), splits=splits,
                       download_size=sum(f["size"] for e in entries for f in e["files"]),
                       dataset_size=sum(e["num_bytes"] for e in entries))
    info.size_in_bytes = info.download_size + info.dataset_size
    return info


def corrupted_metadata_config(parts: list[Part], corruption: str) -> dict:
    patterns = [f"{corrupted_dir(p.generator, p.task, corruption)}/{corrupted_rows.SPLIT}-*" for p in parts]
    return {"data_files": [{"split": corrupted_rows.SPLIT, "path": patterns[0] if len(patterns) == 1 else patterns}]}


def declared_corrupted(declared: dict[str, list[Part]]) -> dict[str, list[Part]]:
    """``<config>-<corruption>`` for every declared config whose parts all have that corrupted copy."""
    found = {}
    for name, parts in declared.items():
        for corruption in corruption_recipe.CORRUPTIONS:
            if all(p.corrupted.get(corruption, {}).get("files") for p in parts):
                found[configs.corrupted_config_name(name, corruption)] = parts
    return found


def metadata_config(parts: list[Part]) -> dict:
    """``configs:`` entry: per split the shard patterns of the parts, in task order."""
    data_files = []
    for split in SPLITS:
        patterns = [f"{part_dir(p.generator, p.task)}/{split}-*" for p in parts]
        data_files.append({"split": split, "path": patterns[0] if len(patterns) == 1 else patterns})
    return {"data_files": data_files}


def declared_configs(parts: list[Part]) -> tuple[dict[str, list[Part]], dict[str, list[tuple[str, int]]]]:
    """Configs whose every part is present, and the missing parts of the others that have some."""
    by_key = {(p.generator, p.task): p for p in parts}
    declared, skipped = {}, {}
    for name, wanted in configs.config_parts().items():
        missing = [w for w in wanted if w not in by_key]
        if not missing:
            declared[name] = [by_key[w] for w in wanted]
        elif len(missing) < len(wanted):
            skipped[name] = missing
    return declared, skipped


def card_data(declared: dict[str, list[Part]], yaml_aliases: bool = True,
              corrupted_configs: dict[str, list[Part]] | None = None) -> DatasetCardData:
    """The card's YAML: ``dataset_info`` and ``configs`` of every declared config, one marked ``default``."""
    data = DatasetCardData(**card.METADATA)
    infos = {name: dataset_info(name, parts) for name, parts in declared.items()}
    default = card.default_config(declared) if len(declared) > 1 else None  # one config is the default unmarked
    metadata = {name: {**metadata_config(parts), **({"default": True} if name == default else {})}
                for name, parts in declared.items()}
    corruption_of = configs.corrupted_configs()
    for name, parts in (corrupted_configs or {}).items():
        corruption = corruption_of[name][1]
        infos[name] = corrupted_info(name, parts, corruption)
        metadata[name] = corrupted_metadata_config(parts, corruption)
    DatasetInfosDict(infos).to_dataset_card_data(data)
    MetadataConfigs(metadata).to_dataset_card_data(data)
    if yaml_aliases:
        share_features(data)
    return data


MAX_ALIASES = 99
"""Aliases per YAML anchor: npm ``yaml`` refuses 100 or more aliases of one anchor by default."""


def share_features(data: DatasetCardData) -> None:
    """Make equal ``features`` lists one object, so the YAML holds them once (an anchor, then aliases).

    Every config has the same columns (the corrupted copies: their own), with 1000 label names:
    written out per config the YAML is over 1 MB and takes seconds to parse on every
    ``load_dataset``. The parsed metadata is the same. After MAX_ALIASES aliases a new anchor starts.
    """
    infos = data.get("dataset_info")
    if isinstance(infos, list) and infos:
        shared: list[list] = []  # [features object, times aliased] per anchor
        for info in infos:
            same = next((entry for entry in shared if entry[0] == info["features"] and entry[1] < MAX_ALIASES), None)
            if same is None:
                shared.append([info["features"], 0])
            else:
                info["features"] = same[0]
                same[1] += 1


def corrupted_wanted(source: base.Source, parts: list[tuple[str, int]],
                     requested=()) -> tuple[dict[tuple[str, int], set[str]], list[str]]:
    """Per (generator, task): the corrupted copies to publish, and one line per copy that cannot be.

    A part gets a corruption if the release holds that copy for both sources, or if it is
    ``requested`` (then made with the release's recipe where the release has none). A part whose
    copy is unusable gets none of that corruption.
    """
    copies, problems = source.corrupted_copies()
    held: dict[tuple[str, int, str], set[str]] = {}
    for key in copies:
        held.setdefault((key.generator, key.task, key.corruption), set()).add(key.source)
    bad = {(key.generator, key.task, key.corruption) for key, _line in problems if key is not None}
    wanted: dict[tuple[str, int], set[str]] = {}
    for generator, task, corruption in held:
        if held[generator, task, corruption] == set(tables.SOURCES):
            wanted.setdefault((generator, task), set()).add(corruption)
    for part in parts:
        for corruption in requested:
            wanted.setdefault(part, set()).add(corruption)
    for generator, task, corruption in bad:
        wanted.get((generator, task), set()).discard(corruption)
    return wanted, [line for _key, line in problems]


def withdraw_card(out: Path) -> None:
    """Remove README.md before shards change: no card may declare shards that are being replaced."""
    records(out).delete(owned_files.CARD_GROUP, [CARD])


def ensure_parts(source: base.Source, out: Path, wanted: list[tuple[str, int]], max_shard_size: int,
                 num_proc: int | None = None, log=print, corruption_names=(),
                 wait_lock: bool = False, *, image_size=64, check: str = "decode",
                 overwrite: bool = False) -> tuple[list[Part], list[str]]:
    """Build each wanted (generator, task) not already finished in ``out`` for the same source, shard
    size, image size and check (every one with ``overwrite``), with its corrupted copies (the release's,
    and ``corruption_names`` made with the recipe); returns the parts and one line per corrupted copy
    left out.

    Each part is built under its own lock (parallel jobs may build other parts of the same folder).
    """
    if not wanted:
        raise ValueError(f"{source.root} holds no (generator, task) to publish")
    if corruption_names:
        corruption_recipe.require(corruption_names)
    fingerprints, copies, problems = {}, {}, []
    parts = []
    for number, (generator, task) in enumerate(wanted, 1):
        name = configs.task_config_name(generator, task)
        step = f"part {number} of {len(wanted)}: {name}"
        if generator not in fingerprints:
            fingerprints[generator] = source.fingerprint([generator])
            found, lines = corrupted_wanted(source, [w for w in wanted if w[0] == generator], corruption_names)
            copies.update(found)
            problems += lines
        names = tuple(c for c in corruption_recipe.CORRUPTIONS if c in copies.get((generator, task), ()))
        with folder_lock.exclusive(out, f"part-{name}", wait=wait_lock, log=log):
            done = _read_manifest(out, generator, task)
            if done and (done.image_size, done.check) != (image_size, check):
                log(f"{step}: built before as {describe_images(done.image_size, done.check)}; this run asks "
                    f"{describe_images(image_size, check)}")
            elif overwrite and done:
                log(f"{step}: built before, rebuilt (overwrite)")
            elif (done and done.fingerprint == fingerprints[generator] and done.max_shard_size == max_shard_size
                    and done.complete_in(out)):
                if tuple(done.corrupted) != names:
                    withdraw_card(out)
                    update_corrupted(source, out, done, names, num_proc)
                    log(f"{step}: done before ({done.rows()} rows), kept; corrupted test copies now "
                        f"{', '.join(names) or 'none'}")
                else:
                    log(f"{step}: done before ({done.rows()} rows), kept")
                if shard_digests.fill_missing(done.all_files(), out):
                    _write_atomic(manifest_path(out, generator, task), json.dumps(done.__dict__, indent=1))
                    log(f"{step}: shard digests (sha256) recorded in its manifest")
                parts.append(done)
                continue
            withdraw_card(out)
            log(f"{step}: building")
            part = build_part(source, out, generator, task, fingerprints[generator], max_shard_size, num_proc, names,
                              image_size, check)
        log(f"{step}: {part.rows()} rows, {part.parquet_bytes():,} bytes of Parquet" + (
            f"; corrupted test copies {', '.join(names)}: {part.corrupted_bytes():,} bytes" if names else ""))
        parts.append(part)
    return parts, problems


def remove_stale_files(out: Path, parts: list[Part]) -> list[str]:
    """Delete the shards that runs of ours wrote and no finished part lists any more (old shards, parts
    gone from the source); nothing else."""
    keep = {f["path"] for p in parts for f in p.all_files()}
    owned = records(out)
    stale = []
    for group, paths in owned.groups().items():
        if group != owned_files.CARD_GROUP:
            stale += owned.delete(group, paths - keep)
    return stale


def build_parts_only(source: base.Source, out, names: list[str] | None = None, job_index: int | None = None,
                     max_shard_size=MAX_SHARD_SIZE, num_proc: int | None = None, log=print,
                     corruption_names=(), wait_lock: bool = False, image_size=64, check: str = "decode",
                     overwrite: bool = False) -> list[Part]:
    """One job of a cluster array: build the parts named (``sdv14-task3``, or every part of a config such
    as ``sdv14``) or the ``job_index``-th part present, and nothing else (no card, no upload). A final
    plain publish run with the same ``image_size`` and ``check`` finds them done."""
    _, out = check_paths(source.root, out)
    image_size = check_options(source, image_size, check, corruption_names)
    present = source.parts()
    by_name = {configs.task_config_name(g, t): (g, t) for g, t in present}
    if job_index is not None:
        if not 0 <= job_index < len(present):
            raise ValueError(f"job index {job_index} out of range: {source.root} holds {len(present)} parts "
                             f"(0..{len(present) - 1})")
        wanted = [present[job_index]]
    else:
        parts_of = configs.config_parts()
        wanted = list(dict.fromkeys(p for n in names for p in parts_of.get(n, ())))
        unknown = [n for n in names if n not in parts_of] + [configs.task_config_name(*p) for p in wanted
                                                            if p not in present]
        if unknown:
            raise ValueError(f"part(s) {', '.join(unknown)} not in {source.root}; it holds {', '.join(by_name)}")
    folders = [folder for g, t in wanted for folder in (
        part_dir(g, t), *(corrupted_dir(g, t, c) for c in corruption_recipe.CORRUPTIONS))]
    refuse_links(out, folders)
    records(out).refuse_foreign(folders)
    return ensure_parts(source, out, wanted, convert_file_size_to_int(max_shard_size), num_proc, log,
                        corruption_names, wait_lock, image_size=image_size, check=check, overwrite=overwrite)[0]


def refuse_links(out: Path, folders: list[str]) -> None:
    """:class:`owned_files.ForeignFiles` if a folder on the way to ``folders`` (relative to ``out``) is a
    link: a part job never writes through one (a plain run refuses any link in ``data/``)."""
    for folder in folders:
        path = out
        for name in Path(folder).parts:
            path = path / name
            if path.is_symlink():
                raise owned_files.ForeignFiles(
                    f"{out}: {path.relative_to(out).as_posix()} is a link to {os.readlink(path)}, not a folder "
                    f"genimage-cl wrote; a run never writes through a link: remove it or choose another output folder")
            if not path.is_dir():
                break


def build_mirror(source: base.Source, out, max_shard_size=MAX_SHARD_SIZE, num_proc: int | None = None,
                 repo_id: str | None = None,
                 yaml_aliases: bool = True, log=print, corruption_names=(), wait_lock: bool = False, image_size=64,
                 check: str = "decode", overwrite: bool = False) -> Mirror:
    """Write (or finish) the publishable folder ``out`` from the opened raw tree or tensor release ``source``;
    ``corruption_names`` are made with the release's recipe for every part that lacks them. Parts built
    before (by a run or a job array) with the same source, shard size, ``image_size`` and ``check`` are
    kept, unless ``overwrite``.

    Holds ``out``'s lock throughout: a second writer fails at once naming the holder, or waits (``wait_lock``).
    Runs torch on one thread (``torch_workers``): its work here is per row, too small to share.
    """
    _, out = check_paths(source.root, out)
    image_size = check_options(source, image_size, check, corruption_names)
    with folder_lock.exclusive(out, wait=wait_lock, log=log), torch_workers.single_threaded():
        records(out).refuse_foreign(MANAGED)
        return _build_mirror(source, out, convert_file_size_to_int(max_shard_size), num_proc, repo_id,
                             yaml_aliases, log, corruption_names, wait_lock, image_size, check, overwrite)


def _build_mirror(source: base.Source, out: Path, max_shard_size: int, num_proc, repo_id, yaml_aliases, log,
                  corruption_names,
                  wait_lock, image_size, check, overwrite) -> Mirror:
    parts, problems = ensure_parts(source, out, source.parts(), max_shard_size, num_proc, log,
                                   corruption_names, wait_lock, image_size=image_size, check=check,
                                   overwrite=overwrite)
    if remove_stale_files(out, parts):
        withdraw_card(out)
    declared, skipped = declared_configs(parts)
    kind = source.kind
    corrupted_configs = declared_corrupted(declared)
    owned = records(out)
    owned.claim(owned_files.CARD_GROUP, [CARD, LISTING, *figure_files(parts)])
    mirror = Mirror(out, parts, declared, skipped, kind, copy_figures.render(out, parts, log=log), corrupted_configs,
                    problems, copy_figures.render_corrupted(out, parts, log=log), image_size, check)
    drawn = {path.relative_to(out).as_posix() for path in mirror.figure_paths()}
    owned.delete(owned_files.CARD_GROUP, [p for p in owned.group(owned_files.CARD_GROUP)
                                          if p.startswith(f"{copy_figures.FIGURES_DIR}/") and p not in drawn])
    differences = None
    if kind == kinds.RAW_TREE:
        reports = mirror.reports()
        card_differences.write_listing(reports, out / LISTING)
        differences = card_differences.render(reports, LISTING)
    else:
        owned.delete(owned_files.CARD_GROUP, [LISTING])
    for part in {id(p): p for ps in declared.values() for p in ps}.values():
        part.check_shards(out)
    _write_atomic(out / CARD, card.render(card_data(declared, yaml_aliases, corrupted_configs), mirror,
                                          repo_id or card.DEFAULT_REPO_ID, differences))
    return mirror


def figure_files(parts: list[Part]) -> list[str]:
    """Every figure the card may show for ``parts`` (relative paths): recorded before they are drawn."""
    figures = Path(copy_figures.FIGURES_DIR)
    paths = [figure_drawing.sample_path(figures, g) for g in {p.generator for p in parts}]
    paths += [figure_drawing.balance_path(figures, p.generator, p.task) for p in parts]
    return [p.as_posix() for p in [*paths, figures / copy_figures.CORRUPTED_FIGURE]]


def summary(mirror: Mirror) -> str:
    parquet, tensor = mirror.parquet_bytes(), mirror.tensor_bytes()
    reports = mirror.reports()
    lines = [
        f"folder:  {mirror.out}",
        f"configs: {len(mirror.configs)} ({', '.join(mirror.configs)})",
        f"parts:   {len(mirror.parts)} generator-tasks",
        f"images:  {describe_images(mirror.image_size, mirror.check)}",
        f"rows:    {mirror.rows():,} (" + ", ".join(
            f"{split} {sum(p.splits[split]['num_examples'] for p in mirror.parts):,}" for split in SPLITS) + ")",
        f"bytes:   {parquet:,} in {sum(len(s['files']) for p in mirror.parts for s in p.splits.values())} "
        "Parquet files",
        f"tensors: {tensor:,} bytes as the release's float32 X + int64 y",
        f"ratio:   {parquet / tensor:.3f} (Parquet copy / release tensors)" if tensor else "ratio:   n/a (no rows)",
        f"skipped: {sum(len(r['skipped']) for r in reports):,} files; build reports in "
        f"{mirror.out / STATE_DIR / 'reports'} (python -m conversion report {shlex.quote(str(mirror.out))})",
    ]
    empty = [line for report in reports for line in report.get("empty", [])]
    if empty:
        lines.append(f"warning: {len(empty)} empty part(s): " + "; ".join(empty))
    for name, missing in mirror.skipped_configs.items():
        lines.append(f"not declared: {name} (missing {', '.join(f'{g} task {t}' for g, t in missing)})")
    lines += corrupted_summary(mirror)
    return "\n".join(lines)


def corrupted_summary(mirror: Mirror) -> list[str]:
    """The corrupted test copies: configs, rows, bytes against the float32 tensors, copies left out."""
    lines = []
    if mirror.corrupted_configs:
        rows, parquet = mirror.corrupted_rows(), mirror.corrupted_bytes()
        floats = rows * corrupted_value_bytes()
        lines += [
            f"corrupted configs: {len(mirror.corrupted_configs)} ({', '.join(mirror.corrupted_configs)})",
            f"corrupted rows: {rows:,} in {sum(len(c['files']) for p in mirror.parts for c in p.corrupted.values())} "
            f"Parquet files, {parquet:,} bytes",
            f"corrupted ratio: {parquet / floats:.3f} (Parquet / float32 X_<corruption>.pt values, {floats:,} bytes)"
            if floats else "corrupted ratio: n/a (no rows)",
        ]
    lines += [f"corrupted copy left out: {line}" for line in mirror.corrupted_problems]
    lines += [f"corrupted copy left out: {p.name} {c}: empty (under 10 test rows per source)"
              for p in mirror.parts for c, entry in p.corrupted.items() if not entry["files"]]
    return lines


def corrupted_value_bytes() -> int:
    """Bytes of one image in an ``X_<corruption>.pt`` (float32 [3, 64, 64])."""
    size = tables.release_pixels()["image_size"]
    return 3 * size * size * 4
