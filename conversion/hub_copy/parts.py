"""The Hub copy's parts: what one (generator, task) is, where it lies and how its shards are named.

A part is the ``<key>-task<k>`` config, stored where ``Dataset.push_to_hub(repo, config_name="<key>-task<k>",
data_dir="data/<key>/task<k>")`` puts it: ``data/<key>/task<k>/<split>-NNNNN-of-NNNNN.parquet``
(:func:`shard_name`), its corrupted test copies beside it in ``data/<key>/task<k>-<corruption>/``. A
finished part's :class:`Part` (rows, sizes, shard files, the source's fingerprint, image size) is its
manifest in the folder's state (``.publish/parts/``), its build report beside it (``.publish/reports/``).

Light on imports (no datasets, no pyarrow until a shard is read): the command line's help imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from conversion import folder_lock, regular_files
from conversion.contract import configs
from conversion.sources import generator_folders

CARD = "README.md"
DATA = "data"
SPLITS = tuple(generator_folders.SPLIT_FOLDERS)
MAX_SHARD_SIZE = "500MB"
"""Largest shard, as push_to_hub counts it: its default (``datasets.config.MAX_SHARD_SIZE``)."""
SHARD_NAME = re.compile(r"^(?P<split>[a-z]+)-(?P<index>[0-9]{5})-of-(?P<total>[0-9]{5})\.parquet$")


def shard_name(split: str, index: int, total: int) -> str:
    """The file name of shard ``index`` of ``total`` of ``split``, as push_to_hub names it."""
    return f"{split}-{index:05d}-of-{total:05d}.parquet"


def part_dir(generator: str, task: int) -> str:
    return f"{DATA}/{generator}/task{task}"


def corrupted_dir(generator: str, task: int, corruption: str) -> str:
    """Where push_to_hub(config_name="<key>-task<k>-<corruption>", data_dir=...) would put a corrupted copy."""
    return f"{part_dir(generator, task)}-{corruption}"


def manifest_path(out: Path, generator: str, task: int) -> Path:
    return out / folder_lock.STATE_DIR / "parts" / f"{generator}-task{task}.json"


def report_path(out: Path, generator: str, task: int) -> Path:
    return out / folder_lock.STATE_DIR / "reports" / f"{generator}-task{task}.json"


@dataclass
class Part:
    """A finished (generator, task): per split its rows, sizes and shard files, and the images it holds."""

    generator: str
    task: int
    fingerprint: str
    max_shard_size: int
    splits: dict = field(default_factory=dict)
    corrupted: dict = field(default_factory=dict)
    """Per corruption: the test split's corrupted copy (num_examples, num_bytes, files)."""
    image_size: int | str = 64
    """The builder's ``image_size``: 64 (the release's pixels; also every manifest that does not say), another
    size, or ``"original"`` (the source files' bytes)."""
    check: str = "decode"
    """The builder's ``check`` of the files kept at full resolution (``"decode"`` for converted pixels)."""

    @property
    def name(self) -> str:
        return configs.task_config_name(self.generator, self.task)

    def rows(self) -> int:
        return sum(s["num_examples"] for s in self.splits.values())

    def parquet_bytes(self) -> int:
        return sum(f["size"] for s in self.splits.values() for f in s["files"])

    def corrupted_bytes(self) -> int:
        return sum(f["size"] for c in self.corrupted.values() for f in c["files"])

    def all_files(self) -> list[dict]:
        return [f for s in [*self.splits.values(), *self.corrupted.values()] for f in s["files"]]

    def complete_in(self, out: Path) -> bool:
        """Whether its report and every shard are in ``out`` as regular files (a link or FIFO in a shard's
        place is not the part, and is never followed) of the sizes written."""
        return _regular_size(report_path(out, self.generator, self.task)) is not None and all(
            _regular_size(out / f["path"]) == f["size"] for f in self.all_files())

    def check_shards(self, out: Path) -> None:
        """Raise unless every shard is there with its size and each split (or corrupted copy) holds its row count."""
        from conversion.hub_copy import parquet_pages  # loads pyarrow and datasets

        for split, info in [*self.splits.items(), *((f"test-{c}", e) for c, e in self.corrupted.items())]:
            rows = 0
            for f in info["files"]:
                path = out / f["path"]
                if _regular_size(path) != f["size"]:
                    raise RuntimeError(f"{path}: missing or not the {f['size']:,} bytes {self.name} wrote; "
                                       "re-run publish")
                rows += parquet_pages.read_metadata(path).num_rows
            if rows != info["num_examples"]:
                raise RuntimeError(f"{out / part_dir(self.generator, self.task)}: {split} shards hold {rows} rows, "
                                   f"{self.name} declares {info['num_examples']}; re-run publish")



def _regular_size(path: Path) -> int | None:
    """The size of ``path`` if it is a regular file (a link is not followed), else None."""
    try:
        mode = path.lstat()
    except OSError:
        return None
    return None if regular_files.irregular(mode.st_mode) else mode.st_size
