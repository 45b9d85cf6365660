"""Check a Parquet copy made by ``publish`` (or ``build``): every shard's page checksums and row counts.

Every shard under ``data/`` is read in full, one row group at a time, with page checksum
verification, so a flipped bit anywhere (a label, a pixel) fails and names its shard. Then, for
every config of the card (README.md), the rows of the shards its ``data_files`` patterns match are
summed per split and compared with the card's ``dataset_info``. A folder without a card (the
output of ``build`` jobs) gets the checksum checks only. Only regular files inside the copy are
read: a link (to a file or a folder), FIFO, socket or device under ``data/`` is a problem named
with what it is, never opened or followed.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import DatasetCard
from tqdm.auto import tqdm

from conversion import parquet_pages, regular_files

CARD = "README.md"
DATA = "data"


@dataclass
class CopyCheck:
    """Rows per shard (relative POSIX path) that read back intact, and one line per problem."""

    folder: Path
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def shard_rows(path: Path) -> int:
    """Rows of the shard, read in full with page checksum verification; ``OSError``/``ValueError`` if damaged."""
    with parquet_pages.open_checked(path) as shard:
        rows = 0
        for index in range(shard.num_row_groups):
            rows += shard.read_row_group(index).num_rows
        if rows != shard.metadata.num_rows:
            raise ValueError(f"row groups hold {rows} rows but the footer says {shard.metadata.num_rows}")
        return rows


def _card_configs(card_path: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """(config -> {split: [patterns]}, config -> {split: num_examples}) from the card's YAML."""
    with regular_files.open_regular(card_path) as file:
        data = DatasetCard(file.read().decode("utf-8", "replace")).data.to_dict()
    patterns = {}
    for config in data.get("configs") or []:
        files = config.get("data_files") or []
        patterns[config["config_name"]] = {
            f["split"]: [f["path"]] if isinstance(f["path"], str) else list(f["path"]) for f in files
        }
    infos = data.get("dataset_info") or []
    infos = [infos] if isinstance(infos, dict) else infos
    examples = {info.get("config_name", "default"): {s["name"]: s["num_examples"] for s in info.get("splits", [])}
                for info in infos}
    return patterns, examples


def _entries(data: Path) -> tuple[list[Path], list[str]]:
    """The regular ``.parquet`` files under ``data`` (no link followed), and one line per entry that is
    neither a regular file nor a folder, or a folder that cannot be listed."""
    shards, problems = [], []
    root = data.parent

    def unlisted(err: OSError) -> None:
        problems.append(f"{Path(err.filename).relative_to(root).as_posix()}: cannot be listed ({err.strerror})")

    for top, dirs, files in os.walk(data, onerror=unlisted):
        for name in sorted(dirs + files):
            path = Path(top) / name
            try:
                kind = regular_files.irregular(path.lstat().st_mode)
            except OSError as err:
                kind = f"unreadable ({err.strerror})"
            if kind is None and name.endswith(".parquet"):
                shards.append(path)
            elif path.is_symlink():
                problems.append(f"{path.relative_to(root).as_posix()}: a link to {os.readlink(path)}; not followed")
            elif kind not in (None, "a folder"):
                problems.append(f"{path.relative_to(root).as_posix()}: {kind}, not a regular file; not read")
    return sorted(shards), problems


def verify(folder: str | os.PathLike, progress: bool = True) -> CopyCheck:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a directory")
    data = folder / DATA
    if data.is_symlink() or not data.is_dir():
        what = f"a link to {os.readlink(data)}" if data.is_symlink() else "missing or not a folder"
        raise NotADirectoryError(f"{data} is {what}: not a copy made by publish or build (links are not followed)")
    shards, problems = _entries(data)
    if not shards and not problems:
        raise FileNotFoundError(f"no Parquet shard under {data}: not a copy made by publish or build")
    result = CopyCheck(folder, problems=problems)
    for path in tqdm(shards, desc="shards", unit="shard", disable=not progress):
        name = path.relative_to(folder).as_posix()
        try:
            result.rows[name] = shard_rows(path)
        except (OSError, ValueError) as err:  # checksum, decompression, footer: one line per bad shard
            result.problems.append(f"{name}: damaged: {err}")
    card = folder / CARD
    if not os.path.lexists(card):
        result.notes.append(f"no {CARD} in {folder}: page checksums checked, row counts not compared with a card")
        return result
    try:
        patterns, examples = _card_configs(card)
    except OSError as err:
        result.problems.append(str(err))
        return result
    names = [path.relative_to(folder).as_posix() for path in shards]
    for config, splits in patterns.items():
        for split, globs in splits.items():
            matched = [n for n in names if any(fnmatch.fnmatchcase(n, g) for g in globs)]
            expected = examples.get(config, {}).get(split)
            if not matched:
                result.problems.append(f"config {config} {split}: no shard matches {', '.join(globs)}")
            elif expected is None:
                result.problems.append(f"config {config} {split}: the card's dataset_info gives no row count")
            elif all(n in result.rows for n in matched):
                found = sum(result.rows[n] for n in matched)
                if found != expected:
                    result.problems.append(f"config {config} {split}: the card says {expected} rows, its shards hold "
                                           f"{found} ({', '.join(globs)})")
    return result


def format_check(result: CopyCheck) -> str:
    lines = [f"{result.folder}: {len(result.rows)} shard(s) intact, {sum(result.rows.values()):,} rows"]
    lines += [f"  note: {n}" for n in result.notes]
    lines += [f"  problem: {p}" for p in result.problems]
    lines.append(f"{len(result.problems)} problem(s)")
    return "\n".join(lines)
