"""Check a Parquet copy made by ``publish``: every shard's digest, page checksums and row counts.

Every shard under ``data/`` is read in full, one row group at a time, with page checksum
verification, so a flipped bit in a page (a label, a pixel) fails and names its shard. Its sha256
is compared with the one its part's manifest recorded (``.publish/parts/``, in the folder publish
wrote) and, when a Hub repository is given, with the LFS sha256 the Hub holds for it
(:mod:`conversion.hub_copy.shard_digests`): a flipped byte anywhere, the footer included, fails. Then, for
every config of the card (README.md), its ``data_files`` patterns are resolved by datasets' own
resolution (:func:`datasets.data_files.resolve_pattern`, as ``load_dataset`` resolves them for this
folder or for the Hub repository holding it: ``*`` stops at ``/``, hidden and ``__`` folders are
skipped unless named), and the rows of the files it selects are summed per split and compared with
the card's ``dataset_info``. A file the patterns select that is not a regular Parquet shard under
``data/`` (a ``.txt``, a link), a file selected twice in one split, a pattern without wildcards
that names no file, and a shard that no config selects (a stray file ``load_dataset`` never reads,
e.g. ``data/sdv14/task0/train-x/a.parquet``) are problems. A folder without a card (parts built by
publish's jobs before the final run) gets the checksum checks only. Only regular files inside the copy are read: a link
(to a file or a folder), FIFO, socket or device under ``data/`` is a problem named with what it is,
never opened or followed.
"""

from __future__ import annotations

import glob
import os
import posixpath
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from huggingface_hub import DatasetCard
from tqdm.auto import tqdm

from conversion import folder_lock, regular_files
from conversion.hub_copy import parquet_pages, shard_digests
from conversion.hub_copy.parts import CARD, DATA


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


class BadCard(ValueError):
    """A card whose YAML header does not have the shape of a dataset card's ``configs``/``dataset_info``."""


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _kind(value) -> str:
    return "nothing" if value is None else _a(type(value).__name__)


def _expect(value, kind, where: str, card_path: Path):
    if not isinstance(value, kind):
        want = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise BadCard(f"{card_path}: {where}: expected {_a(want)}, found {_kind(value)}")
    return value


def _patterns(files, where: str, card_path: Path) -> dict[str, list[str]]:
    """``data_files`` of one config as {split: [patterns]}; a bare pattern or list of them is the train split.
    A split given twice is refused, as datasets refuses it."""
    if isinstance(files, str):
        return {"train": [files]}
    by_split: dict[str, list[str]] = {}
    seen: set[str] = set()
    for index, entry in enumerate(_expect(files, list, where, card_path)):
        if isinstance(entry, str):
            by_split.setdefault("train", []).append(entry)
            continue
        entry = _expect(entry, dict, f"{where}[{index}]", card_path)
        split = _expect(entry.get("split", "train"), str, f"{where}[{index}].split", card_path)
        path = _expect(entry.get("path"), (str, list), f"{where}[{index}].path", card_path)
        paths = [path] if isinstance(path, str) else path
        for number, pattern in enumerate(paths):
            _expect(pattern, str, f"{where}[{index}].path[{number}]", card_path)
        if split in seen:
            raise BadCard(f"{card_path}: {where}[{index}].split: split {split!r} given twice (datasets refuses it)")
        seen.add(split)
        by_split.setdefault(split, []).extend(paths)
    return by_split


def _card_configs(card_path: Path) -> tuple[dict[str, dict], dict[str, dict], dict[str, str]]:
    """(config -> {split: [patterns]}, config -> {split: num_examples}, config -> data_dir) from the
    card's YAML; :class:`BadCard` naming the card and the key for anything not shaped as a dataset card."""
    with regular_files.open_regular(card_path) as file:
        text = file.read().decode("utf-8", "replace")
    try:
        data = DatasetCard(text).data.to_dict()
    except Exception as err:  # YAML syntax, a header that is not a mapping: the card is unreadable
        raise BadCard(f"{card_path}: unreadable YAML header ({type(err).__name__}: {err})") from None
    patterns, data_dirs = {}, {}
    for index, config in enumerate(_expect(data.get("configs") or [], list, "configs", card_path)):
        config = _expect(config, dict, f"configs[{index}]", card_path)
        name = _expect(config.get("config_name"), str, f"configs[{index}].config_name", card_path)
        patterns[name] = _patterns(config.get("data_files") or [], f"configs[{index}] ({name}).data_files", card_path)
        if config.get("data_dir") is not None:
            data_dirs[name] = _expect(config["data_dir"], str, f"configs[{index}] ({name}).data_dir", card_path)
    infos = data.get("dataset_info") or []
    infos = [infos] if isinstance(infos, dict) else _expect(infos, list, "dataset_info", card_path)
    examples = {}
    for index, info in enumerate(infos):
        info = _expect(info, dict, f"dataset_info[{index}]", card_path)
        name = _expect(info.get("config_name", "default"), str, f"dataset_info[{index}].config_name", card_path)
        counts = {}
        for number, split in enumerate(_expect(info.get("splits") or [], list, f"dataset_info[{index}] ({name}).splits",
                                               card_path)):
            where = f"dataset_info[{index}] ({name}).splits[{number}]"
            split = _expect(split, dict, where, card_path)
            rows = split.get("num_examples")
            if isinstance(rows, bool) or not isinstance(rows, int):
                raise BadCard(f"{card_path}: {where}.num_examples: expected an int, found {_kind(rows)}")
            counts[_expect(split.get("name"), str, f"{where}.name", card_path)] = rows
        examples[name] = counts
    return patterns, examples, data_dirs


def default_patterns(folder: Path) -> dict[str, list[str]]:
    """{split: [patterns]} that datasets uses for a repository whose card declares no configs
    (``datasets.data_files.get_data_patterns``); ``FileNotFoundError`` if they find nothing."""
    from datasets.data_files import get_data_patterns

    found = get_data_patterns(glob.escape(Path(os.path.abspath(folder)).as_posix()))
    return {str(split): patterns for split, patterns in found.items()}


class Unresolved(ValueError):
    """Patterns that ``load_dataset`` cannot resolve: one without wildcards names no file of a known format."""


def data_files(folder: Path, patterns: list[str], data_dir: str | None = None) -> list[str]:
    """The files (POSIX paths relative to ``folder``, in order, a file matched twice listed twice) that
    ``load_dataset`` reads for one split of a config whose ``data_files`` are ``patterns``.

    Resolved by datasets itself (:func:`datasets.data_files.resolve_pattern` with the extensions it
    allows for a card's configs), pattern by pattern, as ``DataFilesPatternsList.resolve`` does: a
    pattern with wildcards may match nothing, one without must name a file (else :class:`Unresolved`).
    The folder's own path is escaped first, so that a copy in a folder named ``runs[1]`` resolves as
    its Hub repository would (datasets would read the brackets of a local path as a pattern). A
    selected path outside ``folder`` (a pattern with ``..`` or an absolute one) is returned as it is.
    """
    from datasets.data_files import resolve_pattern
    from datasets.packaged_modules import _ALL_ALLOWED_EXTENSIONS

    root = Path(os.path.abspath(folder)).as_posix()
    base = glob.escape(root) + (f"/{data_dir}" if data_dir else "")
    found = []
    for pattern in patterns:
        try:
            paths = resolve_pattern(pattern, base_path=base, allowed_extensions=_ALL_ALLOWED_EXTENSIONS)
        except FileNotFoundError:
            if glob.has_magic(pattern):
                continue
            raise Unresolved(f"{pattern} names no file of a format datasets reads") from None
        paths = [posixpath.normpath(path) for path in paths]  # a pattern with ../ keeps it in what glob returns
        found += [path[len(root) + 1:] if path.startswith(f"{root}/") else path for path in paths]
    return found


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


def _digest_problems(result: CopyCheck, digests: dict[str, str], recorded: dict[str, str],
                     remote: dict[str, str | None] | None, remote_name: str | None) -> None:
    """One line per shard whose sha256 differs from its manifest's or the Hub's, and per shard that only one
    side holds (a shard the Hub lacks, a Hub shard the copy lacks, a Hub shard stored without LFS). A shard
    whose digest differs is no longer counted intact."""
    for name, digest in digests.items():
        if name in recorded and recorded[name] != digest:
            result.rows.pop(name, None)
            result.problems.append(f"{name}: damaged: its sha256 is {digest}, its part's manifest recorded "
                                   f"{recorded[name]}")
    if remote is None:
        return
    for name in sorted(set(digests) | set(remote)):
        if name not in remote:
            result.problems.append(f"{name}: not in {remote_name}")
        elif name not in digests:
            if name.endswith(".parquet"):
                result.problems.append(f"{name}: in {remote_name}, not in {result.folder}")
        elif remote[name] is None:
            result.problems.append(f"{name}: stored without LFS in {remote_name}: no sha256 to compare with")
        elif remote[name] != digests[name]:
            result.rows.pop(name, None)
            result.problems.append(f"{name}: differs from {remote_name}: sha256 {digests[name]} here, "
                                   f"{remote[name]} on the Hub")


def recorded_digests(folder: Path) -> tuple[dict[str, str], list[str]]:
    """The shard digests the part manifests of ``folder`` (publish's state) recorded, and unreadable manifests."""
    return shard_digests.recorded(sorted((folder / folder_lock.STATE_DIR / "parts").glob("*.json")))


def verify(folder: str | os.PathLike, progress: bool = True, remote: dict[str, str | None] | None = None,
           remote_name: str | None = None) -> CopyCheck:
    """Check ``folder``; ``remote``: {path: LFS sha256} of the Hub repository ``remote_name`` holding the copy
    (:func:`shard_digests.hub_digests` of its ``data/``), to compare every shard with."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a directory")
    data = folder / DATA
    if data.is_symlink() or not data.is_dir():
        what = f"a link to {os.readlink(data)}" if data.is_symlink() else "missing or not a folder"
        raise NotADirectoryError(f"{data} is {what}: not a copy made by publish (links are not followed)")
    shards, problems = _entries(data)
    if not shards and not problems:
        raise FileNotFoundError(f"no Parquet shard under {data}: not a copy made by publish")
    recorded, unreadable = recorded_digests(folder)
    result = CopyCheck(folder, problems=problems + unreadable)
    digests = {}
    for path in tqdm(shards, desc="shards", unit="shard", disable=not progress):
        name = path.relative_to(folder).as_posix()
        try:
            digests[name] = shard_digests.file_sha256(path)
            result.rows[name] = shard_rows(path)
        except (OSError, ValueError) as err:  # checksum, decompression, footer: one line per bad shard
            result.problems.append(f"{name}: damaged: {err}")
    _digest_problems(result, digests, recorded, remote, remote_name)
    if digests and not recorded and remote is None:
        result.notes.append(f"no shard digest recorded in {folder_lock.STATE_DIR}/parts/ (a downloaded copy, or one "
                            f"published before digests): sha256 not compared; give --repo-id to compare with the Hub's")
    card = folder / CARD
    if not os.path.lexists(card):
        result.notes.append(f"no {CARD} in {folder}: page checksums checked, row counts not compared with a card")
        return result
    try:
        patterns, examples, data_dirs = _card_configs(card)
    except (OSError, BadCard) as err:
        result.problems.append(str(err))
        return result
    if not patterns:  # no configs: load_dataset looks for data files by datasets' default patterns
        try:
            patterns = {"default": default_patterns(folder)}
        except FileNotFoundError:
            patterns = {"default": {}}
            result.problems.append(f"{CARD} declares no configs and datasets' default patterns find no data files: "
                                   f"load_dataset fails")
    names = {path.relative_to(folder).as_posix() for path in shards}
    selected: set[str] = set()
    for config, splits in patterns.items():
        for split, globs in splits.items():
            where = f"config {config} {split}"
            try:
                matched = data_files(folder, globs, data_dirs.get(config))
            except Unresolved as err:
                result.problems.append(f"{where}: load_dataset fails: {err}")
                continue
            selected.update(matched)
            expected = examples.get(config, {}).get(split)
            others = sorted({n for n in matched if n not in names})
            twice = sorted(n for n, times in Counter(matched).items() if times > 1)
            if others:
                result.problems.append(f"{where}: {', '.join(globs)} select {', '.join(others)}, not a regular Parquet "
                                       f"shard under {DATA}/: load_dataset would read it as one")
            if twice:
                result.problems.append(f"{where}: {', '.join(twice)} selected twice by {', '.join(globs)}: "
                                       f"load_dataset would read its rows twice")
            if not matched:
                result.problems.append(f"{where}: no shard matches {', '.join(globs)}")
            elif expected is None:
                result.problems.append(f"{where}: the card's dataset_info gives no row count")
            elif all(n in result.rows for n in matched):
                found = sum(result.rows[n] for n in matched)
                if found != expected:
                    result.problems.append(f"{where}: the card says {expected} rows, its shards hold "
                                           f"{found} ({', '.join(globs)})")
    for name in sorted(names - selected):
        result.problems.append(f"{name}: in no config's data_files: load_dataset never reads it (a stray shard: "
                               f"remove it, or declare it in {CARD})")
    return result


def format_check(result: CopyCheck) -> str:
    lines = [f"{result.folder}: {len(result.rows)} shard(s) intact, {sum(result.rows.values()):,} rows"]
    lines += [f"  note: {n}" for n in result.notes]
    lines += [f"  problem: {p}" for p in result.problems]
    lines.append(f"{len(result.problems)} problem(s)")
    return "\n".join(lines)
