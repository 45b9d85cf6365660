"""Write a config, task or split as an ImageFolder tree: ``<split>/<wnid>/`` or ``<split>/{0_nature,1_ai}/``.

Two ways to fill it:

* from a built dataset (any image size, any build source): each row's image bytes are written as
  they are stored (PNG at 64 px);
* at original size from a raw GenImage tree: the source files themselves are hard-linked (or copied
  where a link is impossible or not wanted), without building anything; each file is first fully
  decoded with the build's own checks (:mod:`conversion.pixels.decode`) and skipped, with its reason, if
  a build would skip it.

Every file is written to a short temporary name (any valid file name fits) and renamed
(:mod:`conversion.atomic_files`), so a file under its final name is complete. A re-run keeps a file
only if it is the source file itself (a hard link) or holds exactly the bytes it would write (a
repaired source of the same size is written again), and finishes the rest.

The class layout also writes datasets' ``metadata.jsonl`` into each split folder (``file_name`` relative to
it, and the row's ``label``, ``task_label``, ``source``, ``generator`` and ``task`` as the project stores them),
so that ``load_dataset("imagefolder", data_dir=out)`` gives the project's columns, not labels dense over the
wnid folders present.
"""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from conversion import atomic_files
from conversion.contract import tables
from conversion.pixels import decode
from conversion.sources import file_names

LAYOUTS = {"class": "one folder per wnid (classification)", "source": "0_nature/ and 1_ai/ (detection)"}
FILE_MODES = ("auto", "link", "copy")
SKIP_LIST = "skipped.txt"
METADATA_FILE = "metadata.jsonl"
"""datasets' ImageFolder metadata, one per split folder of the class layout."""
METADATA_COLUMNS = ("label", "task_label", "source", "generator", "task")
_FORMAT_EXTENSIONS = {"PNG": ".png", "JPEG": ".JPEG", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp", "TIFF": ".tiff"}
_FORMAT_OF_EXTENSION = {".png": "PNG", ".jpeg": "JPEG", ".jpg": "JPEG", ".webp": "WEBP", ".gif": "GIF", ".bmp": "BMP",
                        ".tif": "TIFF", ".tiff": "TIFF"}


@dataclass
class Outcome:
    """What an export did: file counts per action and per (split, folder), skipped files with reasons."""

    actions: Counter = field(default_factory=Counter)
    folders: Counter = field(default_factory=Counter)
    bytes: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    targets: set = field(default_factory=set)
    metadata: dict = field(default_factory=lambda: defaultdict(dict))
    """{split: {file_name relative to the split folder: the row's project columns}}."""

    def note(self, split: str, target: Path, label: int, source: int, generator: int) -> None:
        """Record the project's columns of the image written to ``target`` (under ``<out>/<split>/``)."""
        task, task_label = tables.task_of_label()[label]
        values = (label, task_label, source, generator, task)
        self.metadata[split][f"{target.parent.name}/{target.name}"] = dict(zip(METADATA_COLUMNS, values))

    def claim(self, target: Path) -> Path:
        """Refuse a second row for the same file: an export never overwrites its own output."""
        if target in self.targets:
            raise ValueError(f"two images of the export map to {target}; export fewer generators or one source")
        self.targets.add(target)
        return target


def folder_name(layout: str, label: int, source: int) -> str:
    if layout == "class":
        return tables.wnids()[label]
    if layout == "source":  # numbered: loaders sort folder names, so their labels follow the source column
        return f"{source}_{tables.SOURCES[source]}"
    raise ValueError(f"layout must be one of {sorted(LAYOUTS)}, got {layout!r}")


def _image_format(data: bytes) -> str | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:2] == b"BM":
        return "BMP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def file_name_for(file_name: str, data: bytes) -> str:
    """A safe single-component name: the row's file name, with an extension that matches the bytes."""
    parts = [p for p in file_name.replace("\\", "/").split("/") if p not in ("", ".", "..")]
    name = "_".join(parts).lstrip(".") or "image"
    stem, ext = file_names.split_name(name)
    actual = _image_format(data)
    if actual is None or _FORMAT_OF_EXTENSION.get(ext) == actual:
        return name
    return f"{stem}{_FORMAT_EXTENSIONS[actual]}"


def _holds(target: Path, data: bytes) -> bool:
    """Whether ``target`` is a file holding exactly ``data``."""
    return target.is_file() and target.stat().st_size == len(data) and target.read_bytes() == data


def write_bytes(target: Path, data: bytes) -> str:
    """Write ``data`` to ``target`` atomically; ``"kept"`` if ``target`` already holds exactly ``data``."""
    if _holds(target, data):
        return "kept"
    atomic_files.write_bytes(target, data, sync=False)  # a re-run compares every file's bytes
    return "written"


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def place_file(source: Path, data: bytes, read: os.stat_result, target: Path, mode: str) -> str:
    """Hard-link (``link``), copy (``copy``) or link-else-copy (``auto``) ``source``, read as ``data`` from
    the file ``read`` describes, to ``target`` atomically; ``"kept"`` if ``target`` is that file itself or
    already holds exactly ``data``. A link is made to that very file: if ``source`` now names another
    one (swapped since it was read), the checked bytes are copied instead."""
    if (target.is_file() and _same_file(target.stat(), read)) or _holds(target, data):
        return "kept"
    action = "copied"
    with atomic_files.replacing(target, sync=False) as part:  # never through a link a killed run left there
        if mode in ("auto", "link"):
            try:
                os.link(os.path.realpath(source), part)
                action = "linked"
            except OSError as err:
                if mode == "link":
                    raise OSError(f"cannot hard-link {source} into {target.parent} ({err}); use --files copy") from err
            if action == "linked" and not _same_file(os.stat(part, follow_symlinks=False), read):
                part.unlink()
                action = "copied"
        if action == "copied":
            part.write_bytes(data)  # the very bytes that were checked
    return action


def _checked_bytes(path: Path, source: str, roots: tuple[str, ...]):
    """(bytes, stat of the file read, None) of ``path`` if a build would keep it (the same reading rules
    inside ``roots`` and the same full decode), else (None, None, why)."""
    try:
        data, read = decode.read_file(str(path), roots)
        decode.convert(data, source, None)
    except decode.Unreadable as err:
        return None, None, str(err)
    return data, read, None


def export_dataset(views: dict[str, list], out: Path, layout: str, progress: bool = True) -> Outcome:
    """Write the rows of ``views`` ({split: [Dataset, ...]}) under ``out/<split>/<folder>/``."""
    import datasets  # here and tqdm, not at the top: ``python -m conversion --help`` stays quick
    from tqdm.auto import tqdm

    outcome = Outcome()
    for split, parts in views.items():
        total = sum(len(v) for v in parts)
        with tqdm(total=total, desc=f"export {split}", unit="img", disable=not progress) as bar:
            for view in parts:
                raw = view.select_columns(["image", "label", "source", "generator", "file_name"]).cast_column(
                    "image", datasets.Image(decode=False)
                )
                for batch in raw.iter(batch_size=256):
                    columns = (batch[c] for c in ("image", "label", "source", "generator", "file_name"))
                    for image, label, source, generator, name in zip(*columns):
                        data = image["bytes"] if image["bytes"] is not None else Path(image["path"]).read_bytes()
                        folder = folder_name(layout, label, source)
                        directory = out / split / folder
                        directory.mkdir(parents=True, exist_ok=True)
                        target = outcome.claim(directory / file_name_for(name, data))
                        outcome.actions[write_bytes(target, data)] += 1
                        outcome.note(split, target, label, source, generator)
                        outcome.folders[split, folder] += 1
                        outcome.bytes += len(data)
                    bar.update(len(batch["file_name"]))
    return outcome


def export_source_files(source, selected: dict[str, tuple[list, list]], out: Path, layout: str, mode: str,
                        progress: bool = True) -> Outcome:
    """Link or copy the raw tree ``source``'s selected items ({split: (items, skips)}, see
    :func:`select_items`) under ``out/<split>/<folder>/``; the plan's skips are listed with the
    files that fail to read."""
    from tqdm.auto import tqdm

    outcome = Outcome()
    for split, (split_items, skips) in selected.items():
        outcome.skipped += [(skip.path, skip.reason) for skip in skips]
        for item in tqdm(split_items, desc=f"export {split}", unit="img", disable=not progress):
            path = Path(item.path)
            data, read, reason = _checked_bytes(path, tables.SOURCES[item.source], source.listing.roots[item.generator])
            if reason:
                outcome.skipped.append((str(path), reason))
                continue
            folder = folder_name(layout, item.label, item.source)
            directory = out / split / folder
            directory.mkdir(parents=True, exist_ok=True)
            target = outcome.claim(directory / item.file_name)
            outcome.actions[place_file(path, data, read, target, mode)] += 1
            outcome.note(split, target, item.label, item.source, tables.generator_index(item.generator))
            outcome.folders[split, folder] += 1
            outcome.bytes += len(data)
    return outcome


def select_views(dataset_dict, splits, task: int | None, source: str) -> dict[str, list]:
    """{split: [view, ...]}: the chosen task (or every task) and source of each split, in row order."""
    from conversion.uses import streams

    chosen = streams.tasks(dataset_dict, source=source, splits=tuple(splits))
    if task is not None:
        chosen = [t for t in chosen if t.index == task]
        if not chosen:
            raise ValueError(f"task {task} has no rows in this config")
    return {split: [t.splits[split] for t in chosen] for split in splits}


def select_items(source, parts, splits, task: int | None, source_choice: str) -> dict[str, tuple[list, list]]:
    """Per split, the raw-tree items the builder would convert, narrowed to one task and source, and the
    files of the chosen source folders that the plan skips (for their name, or a link out of the tree)."""
    wanted = [(g, t) for g, t in parts if task is None or t == task]
    if not wanted:
        raise ValueError(f"task {task} is not part of this config")
    keep = set(range(len(tables.SOURCES))) if source_choice == "both" else {tables.SOURCES.index(source_choice)}
    selected = {}
    for split in splits:
        plan = source.split_plan(split, wanted)
        selected[split] = ([i for i in plan.items if i.source in keep],
                           [s for s in plan.skips if tables.SOURCES.index(s.source) in keep])
    return selected


def write_skip_list(out: Path, skipped: list[tuple[str, str]]) -> Path | None:
    """``out/skipped.txt`` listing this run's skips (path, tab, reason), or no such file when there are none."""
    path = out / SKIP_LIST
    if not skipped:
        path.unlink(missing_ok=True)
        return None
    write_bytes(path, "".join(f"{p}\t{reason}\n" for p, reason in skipped).encode())
    return path


def write_metadata(out: Path, metadata: dict[str, dict[str, dict]]) -> list[Path]:
    """``<out>/<split>/metadata.jsonl`` for each split of ``metadata`` (see :class:`Outcome`), sorted by file
    name; rows an earlier export wrote there (``--merge``, a resumed run) are kept while their file exists."""
    written = []
    for split, rows in sorted(metadata.items()):
        path = out / split / METADATA_FILE
        merged = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if (path.parent / row["file_name"]).is_file():
                    merged[row["file_name"]] = row
        merged.update({name: {"file_name": name, **columns} for name, columns in rows.items()})
        write_bytes(path, "".join(json.dumps(merged[name]) + "\n" for name in sorted(merged)).encode())
        written.append(path)
    return written
