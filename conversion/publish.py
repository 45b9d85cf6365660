"""Build the Hub copy: Parquet shards per (generator, task), a card declaring every config as a view.

Each (generator, task) present in the source is built once with the ``<key>-task<k>`` config and
written where ``Dataset.push_to_hub(repo, config_name="<key>-task<k>", data_dir="data/<key>/task<k>")``
puts it: ``data/<key>/task<k>/<split>-NNNNN-of-NNNNN.parquet``, sharded the same way (contiguous
shards of at most ``max_shard_size`` estimated bytes). Every config (generator, generator-task,
``disjoint``) whose parts are all present is declared in README.md as a list of those shard
patterns, with the same ``dataset_info`` push_to_hub writes; no row is stored twice.

Work happens in ``FOLDER/.publish`` (the datasets cache and the finished parts' manifests): a part
is written into a staging folder and renamed into ``data/`` when complete, then its manifest is
written, so an interrupted run leaves no partial part and a re-run skips finished ones. Each part's
build report is kept there too (for the card's differences section). The card's figures are drawn
into ``FOLDER/figures/`` from the finished shards on every run (cheap: label columns and a few row
groups), so they always match the data.

One writer at a time: a publish holds FOLDER's lock (:mod:`conversion.folder_lock`), a part-only job
the lock of its part. README.md is removed before any part is rebuilt and written last, atomically,
after every part it declares has been checked against its shards (files, sizes, row counts), so a
killed re-publish leaves no card that disagrees with the shards. Files under ``data/`` that no
finished part lists (a part's old shards, parts no longer in the source) are removed.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import datasets
import pyarrow.parquet as pq
from datasets.arrow_writer import get_writer_batch_size_from_data_size, get_writer_batch_size_from_features
from datasets.info import DatasetInfo, DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from datasets.utils.metadata import MetadataConfigs
from datasets.utils.py_utils import convert_file_size_to_int
from huggingface_hub import DatasetCardData

from conversion import (build_report, card, card_differences, configs, features, folder_lock, layout, mirror_figures,
                        parquet_pages, progress, sources, tables)

STATE_DIR = folder_lock.STATE_DIR
CARD = "README.md"
LISTING = "reports/differences.csv"
"""Files left out and images kept that the release dropped, shipped with a copy built from a raw tree."""
SPLITS = tuple(layout.SPLIT_FOLDERS)
MAX_SHARD_SIZE = datasets.config.MAX_SHARD_SIZE


def tensor_bytes(rows: int) -> int:
    """Bytes the release's float32 X and int64 y take for ``rows`` images."""
    size = tables.release_pixels()["image_size"]
    return rows * (3 * size * size * 4 + 8)


def part_dir(generator: str, task: int) -> str:
    return f"data/{generator}/task{task}"


@dataclass
class Part:
    """A finished (generator, task): per split its rows, sizes and shard files."""

    generator: str
    task: int
    fingerprint: str
    max_shard_size: int
    splits: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return configs.task_config_name(self.generator, self.task)

    def rows(self) -> int:
        return sum(s["num_examples"] for s in self.splits.values())

    def parquet_bytes(self) -> int:
        return sum(f["size"] for s in self.splits.values() for f in s["files"])

    def files(self) -> list[dict]:
        return [f for s in self.splits.values() for f in s["files"]]

    def complete_in(self, out: Path) -> bool:
        return _report_path(out, self.generator, self.task).is_file() and all(
            (out / f["path"]).is_file() and (out / f["path"]).stat().st_size == f["size"] for f in self.files())

    def check_shards(self, out: Path) -> None:
        """Raise unless every shard is there with its size and each split's shards hold its row count."""
        for split, info in self.splits.items():
            rows = 0
            for f in info["files"]:
                path = out / f["path"]
                if not path.is_file() or path.stat().st_size != f["size"]:
                    raise RuntimeError(f"{path}: missing or not the {f['size']:,} bytes {self.name} wrote; re-run publish")
                rows += pq.ParquetFile(path).metadata.num_rows
            if rows != info["num_examples"]:
                raise RuntimeError(f"{out / part_dir(self.generator, self.task)}: {split} shards hold {rows} rows, "
                                   f"{self.name} declares {info['num_examples']}; re-run publish")


@dataclass
class Mirror:
    """What the folder holds: its parts and the configs declared over them."""

    out: Path
    parts: list[Part]
    configs: dict[str, list[Part]]
    skipped_configs: dict[str, list[tuple[str, int]]]
    source_kind: str = sources.RELEASE
    figures: dict[str, dict] = field(default_factory=dict)

    def rows(self) -> int:
        return sum(p.rows() for p in self.parts)

    def parquet_bytes(self) -> int:
        return sum(p.parquet_bytes() for p in self.parts)

    def tensor_bytes(self) -> int:
        return tensor_bytes(self.rows())

    def files(self) -> list[tuple[str, int]]:
        """(path in repo, bytes) of every file to upload."""
        found = [(f["path"], f["size"]) for p in self.parts for s in p.splits.values() for f in s["files"]]
        for path in self.figure_paths():
            found.append((path.relative_to(self.out).as_posix(), path.stat().st_size))
        if self.source_kind == sources.RAW_TREE:
            found.append((LISTING, (self.out / LISTING).stat().st_size))
        return found + [(CARD, (self.out / CARD).stat().st_size)]

    def figure_paths(self) -> list[Path]:
        drawn = self.figures.values()
        return [p for d in drawn for p in [d["samples"], *d["balance"].values()] if p is not None]

    def reports(self) -> list[dict]:
        """The build report of every part."""
        return [build_report.load(_report_path(self.out, p.generator, p.task)) for p in self.parts]


def _manifest_path(out: Path, generator: str, task: int) -> Path:
    return out / STATE_DIR / "parts" / f"{generator}-task{task}.json"


def _report_path(out: Path, generator: str, task: int) -> Path:
    return out / STATE_DIR / "reports" / f"{generator}-task{task}.json"


def _read_manifest(out: Path, generator: str, task: int) -> Part | None:
    try:
        return Part(**json.loads(_manifest_path(out, generator, task).read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_shards(ds: datasets.Dataset, folder: Path, split: str, max_shard_size: int) -> list[dict]:
    """Parquet shards of ``ds`` as push_to_hub writes them: same count, contiguous, same row groups."""
    nbytes = ds._estimate_nbytes()  # the estimate push_to_hub shards by
    num_shards = int(nbytes / max_shard_size) + 1
    batch_size = get_writer_batch_size_from_features(ds.features) or get_writer_batch_size_from_data_size(len(ds), nbytes)
    files = []
    for index in range(num_shards):
        name = f"{split}-{index:05d}-of-{num_shards:05d}.parquet"
        ds.shard(num_shards=num_shards, index=index, contiguous=True).to_parquet(
            folder / name, batch_size=batch_size, **parquet_pages.WRITE_OPTIONS)
        files.append({"name": name, "size": (folder / name).stat().st_size})
    return files


def build_part(data_dir, out: Path, generator: str, task: int, fingerprint: str, max_shard_size: int,
               num_proc: int | None = None) -> Part:
    """Build ``<generator>-task<task>`` and move its shards into ``out/data/...`` in one rename."""
    from genimage_cl import GenImageCL

    state = out / STATE_DIR
    cache = state / "cache" / f"{generator}-task{task}"  # one per part: parts may be built by parallel jobs
    staging = state / "staging" / f"{generator}-task{task}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    part = Part(generator, task, fingerprint, max_shard_size)
    builder = GenImageCL(config_name=part.name, data_dir=str(data_dir), cache_dir=str(cache))
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
            "files": [{"path": f"{part_dir(generator, task)}/{f['name']}", "size": f["size"]} for f in files],
        }
    del built
    target = out / part_dir(generator, task)
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staging, target)
    _write_atomic(_report_path(out, generator, task), report.read_text())
    _write_atomic(_manifest_path(out, generator, task), json.dumps(part.__dict__, indent=1))
    shutil.rmtree(cache, ignore_errors=True)
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


def card_data(declared: dict[str, list[Part]], yaml_aliases: bool = True) -> DatasetCardData:
    """The card's YAML: ``dataset_info`` and ``configs`` of every declared config, one marked ``default``."""
    data = DatasetCardData(**card.METADATA)
    DatasetInfosDict({name: dataset_info(name, parts) for name, parts in declared.items()}).to_dataset_card_data(data)
    default = card.default_config(declared) if len(declared) > 1 else None  # one config is the default unmarked
    MetadataConfigs({name: {**metadata_config(parts), **({"default": True} if name == default else {})}
                     for name, parts in declared.items()}).to_dataset_card_data(data)
    if yaml_aliases:
        share_features(data)
    return data


def share_features(data: DatasetCardData) -> None:
    """Make equal ``features`` lists one object, so the YAML holds them once (an anchor, then aliases).

    Every config has the same columns, with 1000 label names: written out per config the YAML is
    over 1 MB and takes seconds to parse on every ``load_dataset``. The parsed metadata is the same.
    """
    infos = data.get("dataset_info")
    if isinstance(infos, list) and infos:
        first = infos[0]["features"]
        for info in infos[1:]:
            if info["features"] == first:
                info["features"] = first


def withdraw_card(out: Path) -> None:
    """Remove README.md before shards change: no card may declare shards that are being replaced."""
    (out / CARD).unlink(missing_ok=True)


def ensure_parts(data_dir, out: Path, wanted: list[tuple[str, int]], max_shard_size: int,
                 num_proc: int | None = None, log=print, wait_lock: bool = False) -> list[Part]:
    """Build each wanted (generator, task) not already finished in ``out`` for the same source.

    Each part is built under its own lock (parallel jobs may build other parts of the same folder).
    """
    if not wanted:
        raise ValueError(f"{data_dir} holds no (generator, task) to publish")
    fingerprints = {}
    parts = []
    for number, (generator, task) in enumerate(wanted, 1):
        name = configs.task_config_name(generator, task)
        step = f"part {number} of {len(wanted)}: {name}"
        if generator not in fingerprints:
            fingerprints[generator] = sources.open_source(data_dir, [generator]).fingerprint()
        with folder_lock.exclusive(out, f"part-{name}", wait=wait_lock, log=log):
            done = _read_manifest(out, generator, task)
            if (done and done.fingerprint == fingerprints[generator] and done.max_shard_size == max_shard_size
                    and done.complete_in(out)):
                log(f"{step}: done before ({done.rows()} rows), kept")
                parts.append(done)
                continue
            withdraw_card(out)
            log(f"{step}: building")
            part = build_part(data_dir, out, generator, task, fingerprints[generator], max_shard_size, num_proc)
        log(f"{step}: {part.rows()} rows, {part.parquet_bytes():,} bytes of Parquet")
        parts.append(part)
    return parts


def remove_stale_files(out: Path, parts: list[Part]) -> list[Path]:
    """Delete files under ``data/`` that no part lists (old shards, parts gone from the source)."""
    keep = {out / f["path"] for p in parts for f in p.files()}
    stale = [p for p in (out / "data").rglob("*") if p.is_file() and p not in keep]
    for path in stale:
        path.unlink()
    for folder in sorted((p for p in (out / "data").rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return stale


def build_parts_only(data_dir, out, names: list[str] | None = None, job_index: int | None = None,
                     max_shard_size=MAX_SHARD_SIZE, num_proc: int | None = None, log=print,
                     wait_lock: bool = False) -> list[Part]:
    """One job of a cluster array: build the parts named (``sdv14-task3``) or the ``job_index``-th
    part present, and nothing else (no card, no upload). A final plain publish run finds them done."""
    present = sources.present_parts(data_dir)
    by_name = {configs.task_config_name(g, t): (g, t) for g, t in present}
    if job_index is not None:
        if not 0 <= job_index < len(present):
            raise ValueError(f"job index {job_index} out of range: {data_dir} holds {len(present)} parts (0..{len(present) - 1})")
        wanted = [present[job_index]]
    else:
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ValueError(f"part(s) {', '.join(unknown)} not in {data_dir}; it holds {', '.join(by_name)}")
        wanted = [by_name[n] for n in names]
    return ensure_parts(data_dir, Path(out), wanted, convert_file_size_to_int(max_shard_size), num_proc, log, wait_lock)


def build_mirror(data_dir, out, max_shard_size=MAX_SHARD_SIZE, num_proc: int | None = None, repo_id: str | None = None,
                 yaml_aliases: bool = True, log=print, wait_lock: bool = False) -> Mirror:
    """Write (or finish) the publishable folder ``out`` from the raw tree or tensor release ``data_dir``.

    Holds ``out``'s lock throughout: a second writer fails at once naming the holder, or waits (``wait_lock``).
    """
    out = Path(out)
    with folder_lock.exclusive(out, wait=wait_lock, log=log):
        return _build_mirror(data_dir, out, convert_file_size_to_int(max_shard_size), num_proc, repo_id,
                             yaml_aliases, log, wait_lock)


def _build_mirror(data_dir, out: Path, max_shard_size: int, num_proc, repo_id, yaml_aliases, log, wait_lock) -> Mirror:
    parts = ensure_parts(data_dir, out, sources.present_parts(data_dir), max_shard_size, num_proc, log, wait_lock)
    if remove_stale_files(out, parts):
        withdraw_card(out)
    declared, skipped = declared_configs(parts)
    kind = sources.detect(data_dir)
    mirror = Mirror(out, parts, declared, skipped, kind, mirror_figures.render(out, parts))
    differences = None
    if kind == sources.RAW_TREE:
        reports = mirror.reports()
        card_differences.write_listing(reports, out / LISTING)
        differences = card_differences.render(reports, LISTING)
    else:
        (out / LISTING).unlink(missing_ok=True)
    for part in {id(p): p for ps in declared.values() for p in ps}.values():
        part.check_shards(out)
    _write_atomic(out / CARD, card.render(card_data(declared, yaml_aliases), mirror, repo_id or card.DEFAULT_REPO_ID,
                                          differences))
    return mirror


def summary(mirror: Mirror) -> str:
    parquet, tensor = mirror.parquet_bytes(), mirror.tensor_bytes()
    lines = [
        f"folder:  {mirror.out}",
        f"configs: {len(mirror.configs)} ({', '.join(mirror.configs)})",
        f"parts:   {len(mirror.parts)} generator-tasks",
        f"rows:    {mirror.rows():,} (" + ", ".join(
            f"{split} {sum(p.splits[split]['num_examples'] for p in mirror.parts):,}" for split in SPLITS) + ")",
        f"bytes:   {parquet:,} in {sum(len(s['files']) for p in mirror.parts for s in p.splits.values())} Parquet files",
        f"tensors: {tensor:,} bytes as the release's float32 X + int64 y",
        f"ratio:   {parquet / tensor:.3f} (Parquet copy / release tensors)" if tensor else "ratio:   n/a (no rows)",
        f"skipped: {sum(len(r['skipped']) for r in mirror.reports()):,} files; build reports in "
        f"{mirror.out / STATE_DIR / 'reports'} (python -m conversion report {mirror.out})",
    ]
    empty = [line for report in mirror.reports() for line in report.get("empty", [])]
    if empty:
        lines.append(f"warning: {len(empty)} empty part(s): " + "; ".join(empty))
    for name, missing in mirror.skipped_configs.items():
        lines.append(f"not declared: {name} (missing {', '.join(f'{g} task {t}' for g, t in missing)})")
    return "\n".join(lines)
