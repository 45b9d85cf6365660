"""Read the CL release's tensors (docs/release.md#files) as a build source.

The release holds one ``X.pt``/``y.pt`` pair per generator, task, split and source, under folder
names that vary (the original scripts wrote
``processedSingleGenerators/<Generator>/single_generator/<task>/<val|train>/<ai|nature>/X.pt``).
Each pair is found by its path components: a generator name (key, display name, top or inner
folder), a task (``3``, ``task3``, ``task_3``), a split (``train``; ``val`` or ``test``) and a
source (``ai``; ``nature``). ``X`` is float32 ``[N, 3, 64, 64]``, normalized; ``y`` is int64
``[N]`` holding clsloc id - 1. Every row is turned back into uint8 pixels and re-normalized in
float32 torch ops; only a bit-exact match is accepted, so the PNG stored is lossless.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from conversion import torch_workers  # noqa: F401  (forked build workers run torch single-threaded)
from conversion.contract import configs, tables
from conversion.pixels import corruption_recipe, release_pipeline
from conversion.sources import content_digests, generator_folders, raw_tree, tensor_files

X_FILE = "X.pt"
Y_FILE = "y.pt"
SPLIT_NAMES = {"train": "train", "val": "test", "test": "test"}
"""Release split folder -> contract split (the loaders call GenImage's val split ``test`` too)."""
SOURCE_NAMES = {"ai": "ai", "nature": "nature"}
BATCH_ROWS = 256
"""Rows converted together: large enough for vectorized checks, small enough to stay in cache."""
_TASK_NAME = re.compile(r"^(?:task[_-]?)?([0-9]+)$", re.IGNORECASE)
_CORRUPTED_FILE = re.compile(r"^X_(.+)\.pt$")
"""A corrupted test copy ``X_<corruption>.pt`` (docs/paper-loader.md#corrupted-test-copies)."""


RELEASE = "release"
"""``Source.kind`` of a CL tensor release."""


class ReleaseError(ValueError):
    """The tensor release is incomplete, ambiguous or holds something else than the release's tensors."""


class Pair(NamedTuple):
    """One ``X.pt``/``y.pt`` pair and what its path says it holds (``task`` None if the path has none)."""

    generator: str
    task: int | None
    split: str
    source: str
    x_path: Path
    y_path: Path


def _generator_names() -> dict[str, str]:
    names = {}
    for key, g in tables.generators().items():
        for name in (key, g.display_name, g.top_folder, g.inner_folder):
            names[name.lower()] = key
    return names


def _classify(component: str, generator_names: dict[str, str]) -> tuple[str, object] | None:
    """(kind, value) of a path component that names a generator, task, split or source."""
    lower = component.lower()
    if lower in generator_names:
        return "generator", generator_names[lower]
    if lower in SPLIT_NAMES:
        return "split", SPLIT_NAMES[lower]
    if lower in SOURCE_NAMES:
        return "source", SOURCE_NAMES[lower]
    match = _TASK_NAME.match(component)
    if match and int(match.group(1)) < len(tables.task_classes()):
        return "task", int(match.group(1))
    return None


def _describe_pair(root: Path, x_path: Path, components: list[str], root_components: list[str]) -> dict:
    """What the folders between ``root`` and ``x_path`` say, falling back on the root's own names."""
    names = _generator_names()
    found: dict[str, set] = {}
    for component in components:
        kind = _classify(component, names)
        if kind:
            found.setdefault(kind[0], set()).add(kind[1])
    for kind, values in found.items():
        if len(values) > 1:
            raise ReleaseError(
                f"{x_path}: its folders name more than one {kind} ({', '.join(sorted(map(str, values)))}); "
                f"expected one generator, task, split and source folder on the way from {root}"
            )
    meaning = {kind: values.pop() for kind, values in found.items()}
    for component in reversed(root_components):
        kind = _classify(component, names)
        if kind and kind[0] not in meaning:
            meaning[kind[0]] = kind[1]
    missing = [k for k in ("generator", "split", "source") if k not in meaning]
    if missing:
        raise ReleaseError(
            f"{x_path}: no {' or '.join(missing)} folder on its path; expected a generator "
            f"({', '.join(sorted({g.top_folder for g in tables.generators().values()}))} or a key), "
            f"a split ({'/'.join(SPLIT_NAMES)}) and a source ({'/'.join(SOURCE_NAMES)})"
        )
    return meaning


class Found(NamedTuple):
    """What one walk of a release finds: its pairs sorted by (generator, task, split, source), every
    ``X_<corruption>.pt`` in walk order, and the listing entry of each tensor file (its stat)."""

    pairs: list[Pair]
    corrupted: list[Path]
    entries: dict[Path, os.DirEntry]


def _walk(folders: generator_folders.Folders, root: Path):
    """(folder, {file name: entry}) of every folder under ``root``, top down in name order, each listed
    once; as ``os.walk`` does, a link to a folder is not entered."""
    pending = [root]
    while pending:
        folder = pending.pop()
        entries = folders.entries(folder) or {}
        files = {name: entry for name, entry in entries.items() if not entry.is_dir()}
        yield folder, files
        pending += [folder / name for name, entry in sorted(entries.items(), reverse=True)
                    if entry.is_dir() and not entry.is_symlink()]


def scan(root: Path, folders: generator_folders.Folders) -> Found:
    """Every ``X.pt``/``y.pt`` pair and ``X_<corruption>.pt`` file under ``root``, in one walk."""
    root_components = list(root.resolve().parts[1:])
    pairs: dict[tuple, Pair] = {}
    corrupted: list[Path] = []
    entries: dict[Path, os.DirEntry] = {}
    for folder, files in _walk(folders, root):
        tensors = {name: entry for name, entry in files.items() if name == X_FILE or name == Y_FILE
                   or _CORRUPTED_FILE.match(name)}
        entries.update((folder / name, entry) for name, entry in tensors.items())
        corrupted += [folder / name for name in sorted(tensors) if _CORRUPTED_FILE.match(name)]
        if X_FILE not in files:
            continue
        x_path, y_path = folder / X_FILE, folder / Y_FILE
        if Y_FILE not in files:
            raise ReleaseError(f"{x_path} has no {Y_FILE} beside it")
        meaning = _describe_pair(root, x_path, list(folder.relative_to(root).parts), root_components)
        pair = Pair(meaning["generator"], meaning.get("task"), meaning["split"], meaning["source"], x_path, y_path)
        key = pair[:4]
        if key in pairs:
            raise ReleaseError(f"two tensor files for the same generator, task, split and source: "
                               f"{pairs[key].x_path} and {x_path}")
        pairs[key] = pair
    ordered = sorted(pairs.values(), key=lambda p: (p.generator, -1 if p.task is None else p.task, p.split, p.source))
    return Found(ordered, corrupted, entries)


class CopyKey(NamedTuple):
    """The part and corruption a corrupted test copy belongs to."""

    generator: str
    task: int
    source: str
    corruption: str


def _copy_place(root: Path, path: Path, root_components: list[str]) -> tuple[dict, bool]:
    """What the folders of a corrupted copy say, and whether one of them is a ``disjoint`` folder."""
    components = list(path.parent.relative_to(root).parts)
    disjoint = any(c.lower() == configs.DISJOINT for c in components)
    return _describe_pair(root, path, components, root_components), disjoint


def load_pair(pair: Pair) -> tuple[tensor_files.TensorFile | tensor_files.HeldTensor, torch.Tensor]:
    """Both tensors of a pair, loaded with ``weights_only`` and checked: ``X`` opened (its rows read on
    demand), ``y`` in memory."""
    try:
        return tensor_files.load_release_pair(pair.x_path, pair.y_path, tables.release_pixels()["image_size"])
    except tensor_files.BadTensorFile as err:
        raise ReleaseError(str(err)) from None


def standard_labels(pair: Pair, y: torch.Tensor) -> np.ndarray:
    """Standard ImageNet-1k labels of ``y`` (clsloc id - 1)."""
    clsloc = y.numpy() + 1
    bad = clsloc[(clsloc < 1) | (clsloc > 1000)]
    if len(bad):
        raise ReleaseError(f"{pair.y_path}: values {sorted(set((bad - 1).tolist()))[:5]} outside 0..999 "
                           f"(y is clsloc id - 1)")
    table = np.zeros(1001, dtype=np.int64)
    for clsloc_id, label in tables.label_of_clsloc().items():
        table[clsloc_id] = label
    return table[clsloc]


def task_of_labels(pair: Pair, labels: np.ndarray) -> int:
    """The task whose class set holds every label; it must agree with the task folder if there is one."""
    present = set(np.unique(labels).tolist())
    fitting = [t for t, classes in enumerate(tables.task_classes()) if present <= set(classes)]
    if not present:
        if pair.task is None:
            raise ReleaseError(f"{pair.y_path}: empty, and no task folder on its path to tell its task")
        return pair.task
    if not fitting:
        of_label = tables.task_of_label()
        tasks = sorted({of_label[label][0] for label in present if label in of_label})
        outside = sorted(label for label in present if label not in of_label)
        raise ReleaseError(
            f"{pair.y_path}: its labels match no single task class set (they fall in tasks {tasks}"
            + (f"; standard labels {outside[:5]} belong to no task" if outside else "")
            + ")"
        )
    task = fitting[0]
    if pair.task is not None and pair.task != task:
        raise ReleaseError(f"{pair.y_path}: its folder says task {pair.task} but its labels are task {task}'s "
                           "class set")
    return task


def normalize(u8: torch.Tensor) -> torch.Tensor:
    """uint8 ``[..., 3, H, W]`` -> the release's float32 (ToTensor then Normalize)."""
    mean, std = release_pipeline.normalization()
    return u8.to(torch.float32).div_(255).sub_(mean).div_(std)  # in place: the same values, fewer copies


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Invert :func:`normalize`: ``round((X * std + mean) * 255)`` clamped to 0..255."""
    mean, std = release_pipeline.normalization()
    return x.mul(std).add_(mean).mul_(255).round_().clamp_(0, 255).to(torch.uint8)


def exact_uint8(x: torch.Tensor, path, indices=None) -> torch.Tensor:
    """uint8 pixels of ``x``; an error naming the file and row unless re-normalizing gives ``x`` bit for bit."""
    u8 = to_uint8(x)
    bits = x.contiguous().view(torch.int32).view(len(x), -1)
    same = (normalize(u8).view(torch.int32).view(len(x), -1) == bits).all(dim=1)
    if not bool(same.all()):
        row = int((~same).nonzero()[0])
        index = int(indices[row]) if indices is not None else row
        raise ReleaseError(
            f"{path}: row {index} is not the release pipeline's output: re-normalizing its uint8 pixels does not "
            f"give back X bit for bit (an edited or re-saved tensor?); refusing to store a rounded copy"
        )
    return u8


def release_file_name(generator: str, task: int, split: str, source: str, index: int, count: int) -> str:
    """Stable id of a release row; the index is zero-padded so that names sort like indices."""
    width = max(6, len(str(max(count - 1, 0))))
    return f"{generator}/task{task}/{split}/{source}/{index:0{width}d}"


_RELEASE_NAME = re.compile(r"^[a-z0-9]+/task[0-9]+/(?:train|test)/(?:ai|nature)/[0-9]+$")


def is_release_name(file_name: str) -> bool:
    return bool(_RELEASE_NAME.match(file_name))


def release_index(file_name: str) -> int:
    """The X.pt row index of a :func:`release_file_name`."""
    return int(file_name.rsplit("/", 1)[1])


class ReleaseSource:
    """A CL tensor release as a build source: walked once (:func:`conversion.sources.kinds.open_source`),
    each pair validated when it is planned, converted lazily. Pickled for ``num_proc`` workers without
    the labels and listing entries: workers read rows of the files their items name."""

    kind = RELEASE
    description = "CL tensor release"

    def __init__(self, root: Path, found: Found, generator_keys: list[str] | None = None, image_size=64):
        self.root = root
        self._entries = found.entries
        self._copies = None
        self._tasks: dict[Pair, tuple[int, np.ndarray, int]] = {}
        self._opened: dict[str, tensor_files.TensorFile] = {}
        """The X files planned in this process, opened once: examples read their rows."""
        self.present = sorted({p.generator for p in found.pairs})
        keys = self.present if generator_keys is None else generator_keys
        self.require(keys, image_size)
        self.pairs = [p for p in found.pairs if p.generator in keys]
        names = _generator_names()
        named = {path: {names.get(c.lower()) for c in path.relative_to(self.root).parts} - {None}
                 for path in found.corrupted}
        # those of other generators are no concern of this source; those naming none are reported
        self._named = {path: gens for path, gens in named.items() if not gens or gens & set(keys)}
        self.corrupted_files = list(self._named)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_entries": {}, "_tasks": {}, "_opened": {}}

    @property
    def generators(self) -> list[str]:
        return sorted({p.generator for p in self.pairs})

    def require(self, generator_keys: list[str], image_size=64) -> None:
        """:class:`ReleaseError` naming what the release holds if a generator of ``generator_keys`` has no
        tensors, or if ``image_size`` is not the release's."""
        size = tables.release_pixels()["image_size"]
        if image_size != size:
            raise ReleaseError(
                f"{self.root} is a tensor release: its images exist only as {size}x{size} pixels, so image_size must "
                f"be {size} (got {image_size!r}); build from the raw GenImage tree for other sizes or original files"
            )
        missing = [k for k in generator_keys if k not in self.present]
        if missing:
            raise ReleaseError(
                f"the tensor release under {str(self.root)!r} has no {', '.join(missing)} tensors; "
                f"it holds {', '.join(self.present) or 'no X.pt/y.pt pair'}"
            )

    def fingerprint(self, generators: list[str] | None = None) -> str:
        """Names, sizes, modification and change times and inodes of the tensor files of ``generators``
        (default: all of this source's) as the walk listed them, so a repaired file is rebuilt even if its
        size and modification time were kept."""
        keys = set(self.generators if generators is None else generators)
        paths = [p for pair in self.pairs if pair.generator in keys for p in (pair.x_path, pair.y_path)]
        paths += [path for path, gens in self._named.items() if not gens or gens & keys]
        digest = hashlib.sha256()
        for path in paths:
            entry = (str(path.relative_to(self.root)), *content_digests.stat_fingerprint(self._entries[path].stat()))
            digest.update(repr(entry).encode())
        return digest.hexdigest()

    def parts(self) -> list[tuple[str, int]]:
        """Every (generator, task) present: the task its path names (no tensor read), else its labels'."""
        return sorted({(p.generator, self._task_of(p)) for p in self.pairs})

    def _task_of(self, pair: Pair) -> int:
        """The pair's task as its path says, else from its labels (the files read and checked)."""
        return pair.task if pair.task is not None else self._task(pair)[0]

    def _task(self, pair: Pair) -> tuple[int, np.ndarray, int]:
        """(task, standard labels, row count) of a pair, checking both tensors; once per pair."""
        if pair not in self._tasks:
            x, y = load_pair(pair)
            if isinstance(x, tensor_files.TensorFile):
                self._opened[str(pair.x_path)] = x
            labels = standard_labels(pair, y)
            self._tasks[pair] = task_of_labels(pair, labels), labels, len(x)
        return self._tasks[pair]

    def corrupted_copies(self) -> tuple[dict[CopyKey, Path], list[tuple[CopyKey | None, str]]]:
        """The release's usable corrupted test copies of this source's generators, and per copy that
        cannot be used its part (None if it has none) and one line naming the file and why."""
        if self._copies is None:
            self._copies = self._resolve_copies()
        return self._copies

    def _resolve_copies(self) -> tuple[dict[CopyKey, Path], list[tuple[CopyKey | None, str]]]:
        if not self.corrupted_files:
            return {}, []
        root_components = list(self.root.resolve().parts[1:])
        beside = {p.x_path.parent: p for p in self.pairs}
        test_pairs = {}
        for pair in self.pairs:
            if pair.split == "test":
                test_pairs[pair.generator, self._task_of(pair), pair.source] = pair
        found: dict[CopyKey, list[Path]] = {}
        problems = []
        for path in self.corrupted_files:
            key = None
            try:
                key, pair = self._copy_part(path, _CORRUPTED_FILE.match(path.name).group(1), beside, test_pairs,
                                            root_components)
                if key is None:
                    continue
                self._check_copy(path, pair)
            except ReleaseError as err:
                problems.append((key, f"{err}; not published"))
                continue
            found.setdefault(key, []).append(path)
        copies = {}
        for key, paths in found.items():
            if len(paths) > 1:
                problems.append((key, f"{paths[1]}: a second {key.corruption} copy of {key.generator} task {key.task} "
                                      f"test {key.source} beside {paths[0]}; neither is published"))
            else:
                copies[key] = paths[0]
        return copies, problems

    def _copy_part(self, path: Path, name: str, beside: dict, test_pairs: dict, root_components) -> tuple:
        """(CopyKey, its X.pt/y.pt pair) of a corrupted copy; (None, None) if its generator is not built here."""
        if name not in corruption_recipe.CORRUPTIONS:
            raise ReleaseError(f"{path}: unknown corruption {name!r} "
                               f"(expected X_<{'|'.join(corruption_recipe.CORRUPTIONS)}>.pt)")
        pair = beside.get(path.parent)
        if pair is not None:
            generator, split, source, task = pair.generator, pair.split, pair.source, self._task_of(pair)
        else:
            try:
                meaning, disjoint = _copy_place(self.root, path, root_components)
            except ReleaseError as err:
                raise ReleaseError(f"{err}; so it sits in no known part") from None
            generator, split, source = meaning["generator"], meaning["split"], meaning["source"]
            order = list(tables.task_order())
            task = meaning.get("task")
            if task is None and disjoint and generator in order:
                task = order.index(generator)
            if task is None:
                raise ReleaseError(f"{path}: sits in no known part (no task folder, and not a GenImage-Disjoint "
                                   f"generator's disjoint/ folder)")
        if generator not in {p.generator for p in self.pairs}:
            return None, None
        if split != "test":
            raise ReleaseError(f"{path}: corrupted copies belong to test parts, this one sits in a {split} folder")
        pair = test_pairs.get((generator, task, source))
        if pair is None:
            raise ReleaseError(f"{path}: sits in no known part (the release has no X.pt/y.pt of {generator} "
                               f"task {task} test {source})")
        return CopyKey(generator, task, source, name), pair

    def _check_copy(self, path: Path, pair: Pair) -> None:
        """Float32 [floor(N/10)*10, 3, 64, 64] for the N rows of the pair's ``y.pt``, as their headers say
        (their CRCs are compared when the copy is built)."""
        size = tables.release_pixels()["image_size"]
        try:
            x = tensor_files.open_tensor(path, torch.float32, (None, 3, size, size), check=False)
            y = tensor_files.open_tensor(pair.y_path, torch.int64, (None,), check=False)
        except tensor_files.BadTensorFile as err:
            raise ReleaseError(str(err)) from None
        if len(x) != corruption_recipe.kept_rows(len(y)):
            raise ReleaseError(f"{path}: {len(x)} rows, expected {corruption_recipe.kept_rows(len(y))} (the first "
                               f"floor(N/10)*10 of the {len(y)} rows of {pair.y_path})")

    def corrupted_copy(self, generator: str, task: int, source: str, corruption: str) -> torch.Tensor | None:
        """The release's float32 copy of a test part, None if it has none; an error if it is unusable."""
        key = CopyKey(generator, task, source, corruption)
        copies, problems = self.corrupted_copies()
        for problem_key, line in problems:
            if problem_key == key:
                raise ReleaseError(line)
        if key not in copies:
            return None
        size = tables.release_pixels()["image_size"]
        return tensor_files.load_tensor(copies[key], torch.float32, (None, 3, size, size))

    def split_plan(self, split: str, parts: list[tuple[str, int]]) -> raw_tree.Plan:
        """The split's rows for ``parts``; a release has no name skips and nothing excluded."""
        wanted = set(parts)
        cells = {}
        for pair in self.pairs:
            if pair.split != split or (pair.task is not None and (pair.generator, pair.task) not in wanted):
                continue
            task, labels, count = self._task(pair)
            if (pair.generator, task) in wanted:
                cells[pair.generator, task, pair.source] = (pair, labels, count)
        missing = [f"{g} task {t} {split} {s}" for g, t in sorted(wanted) for s in tables.SOURCES
                   if (g, t, s) not in cells]
        if missing:
            raise ReleaseError(f"the tensor release under {str(self.root)!r} lacks X.pt/y.pt for: {'; '.join(missing)}")
        items = []
        for (generator, task, source), (pair, labels, count) in cells.items():
            source_id = tables.SOURCES.index(source)
            for index, label in enumerate(labels.tolist()):
                name = release_file_name(generator, task, split, source, index, count)
                items.append(raw_tree.Item(task, source_id, label, name, generator, str(pair.x_path), index))
        items.sort()
        found = Counter({(generator, source): 0 for generator, _task, source in cells})  # N=0 pairs too
        found.update((item.generator, tables.SOURCES[item.source]) for item in items)

        def why(generator, task, source):
            pair = cells[generator, task, source][0]
            return f"{pair.x_path} and {pair.y_path} hold N=0 rows"

        empty = raw_tree.empty_parts(items, parts, split, why)
        return raw_tree.Plan(items, [], {cell: 0 for cell in found}, dict(found), empty)

    def examples(self, items: list[raw_tree.Item], split: str, image_size, log=None, check: str = "decode"):
        """Rows as PNG, read in batches of rows of one ``X.pt`` (only those rows are read)."""
        size = tables.release_pixels()["image_size"]
        for path, run in itertools.groupby(items, key=lambda item: item.path):
            x = self._opened.get(path) or tensor_files.open_tensor(path, torch.float32, (None, 3, size, size),
                                                                   check=False)  # checked when planned
            run = list(run)
            for start in range(0, len(run), BATCH_ROWS):
                batch = run[start : start + BATCH_ROWS]
                indices = torch.tensor([item.index for item in batch], dtype=torch.int64)
                with torch_workers.single_threaded():  # reading, checking and the HWC copy alike
                    u8 = exact_uint8(x.rows(indices), path, indices=indices)
                    hwc = u8.permute(0, 2, 3, 1).contiguous().numpy()
                for item, image in zip(batch, hwc):
                    example = raw_tree.row(item, release_pipeline.png_bytes(image))
                    if log is not None:
                        log.kept(item)  # after the conversion: an error names this item (ShardLog.done)
                    yield item.file_name, example
