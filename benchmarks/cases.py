"""The benchmark cases. Each runs in its own process (see measure.py) and returns at least
``{"items": n}``; loaders also return ``first_batch_s``. Heavy imports happen at import time,
before the clock starts.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import time
from pathlib import Path

import datasets
import imagecodecs
import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from benchmarks import original_pipeline
from conversion.contract import configs, tables
from conversion.pixels import decode, fast_decode
from conversion.sources import kinds
from conversion.uses import uint8_batches
from genimage_cl import GenImageCL

CASES = {}
BATCH_SIZE = 256
WORKERS = 2


def case(function):
    CASES[function.__name__] = function
    return function


def items_of(data_dir: str, config: str) -> dict[str, list]:
    parts = configs.config_parts()[config]
    source = kinds.open_source(data_dir, sorted({g for g, _ in parts}))
    return {split: source.split_plan(split, parts).items for split in ("train", "test")}


def _paths(data_dir: str, config: str) -> list[str]:
    return [item.path for items in items_of(data_dir, config).values() for item in items]


# (a) and (b): conversion

@case
def convert(data_dir: str, config: str, cache_dir: str, num_proc: int = 1, image_size=64, check: str = "decode",
            fast: bool = True) -> dict:
    """Our build; ``fast=False`` decodes with Pillow alone (imagecodecs' decoding switched off)."""
    if not fast:
        fast_decode.decoded = lambda data, image: None
    builder = GenImageCL(config_name=config, data_dir=data_dir, cache_dir=cache_dir, image_size=image_size,
                         check=check)
    builder.download_and_prepare(num_proc=num_proc)
    splits = builder.info.splits
    return {"items": sum(s.num_examples for s in splits.values()),
            "out_bytes": sum(s.num_bytes for s in splits.values())}


@case
def original(data_dir: str, config: str, work: str) -> dict:
    return {"items": original_pipeline.convert(items_of(data_dir, config), work)}


def _decode(path: str) -> int:
    with Image.open(path) as image:
        image.load()
    return 1


def _decode_imagecodecs(path: str) -> int:
    """The fast decoder alone on every file, chosen by signature (no header checks, no fallback)."""
    with open(path, "rb") as f:
        data = f.read()
    decode = imagecodecs.png_decode if data.startswith(b"\x89PNG") else imagecodecs.jpeg8_decode
    decode(data)
    return 1


DECODERS = {"pillow": _decode, "imagecodecs": _decode_imagecodecs}


@case
def decode_only(data_dir: str, config: str, num_proc: int = 1, decoder: str = "pillow") -> dict:
    paths, function = _paths(data_dir, config), DECODERS[decoder]
    if num_proc == 1:
        return {"items": sum(map(function, paths))}
    with multiprocessing.Pool(num_proc) as pool:
        return {"items": sum(pool.imap_unordered(function, paths, chunksize=16))}


@case
def read_bytes(data_dir: str, config: str) -> dict:
    total = 0
    paths = _paths(data_dir, config)
    for path in paths:
        with open(path, "rb") as f:
            total += len(f.read())
    return {"items": len(paths), "in_bytes": total}


@case
def check_only(data_dir: str, config: str, check: str) -> dict:
    """Read and check every file as a full-resolution build does (``check``), writing nothing."""
    kept = 0
    for split_items in items_of(data_dir, config).values():
        for item in split_items:
            try:
                decode.convert(decode.read_limited(item.path), tables.SOURCES[item.source], None, check)
                kept += 1
            except decode.Unreadable:
                pass
    return {"items": kept}


@case
def copy_bytes(data_dir: str, config: str, out: str) -> dict:
    """Read every file and append its bytes to one output file: the floor of any conversion that
    keeps the original bytes (they are written once more)."""
    paths = _paths(data_dir, config)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as target:
        for path in paths:
            with open(path, "rb") as f:
                target.write(f.read())
    return {"items": len(paths)}


# (c): training-style loading

class ImageFolder(torch.utils.data.Dataset):
    """torchvision's ImageFolder, minimally: <root>/<class>/<file>, classes sorted, PIL decode."""

    def __init__(self, root: str):
        root = Path(root)
        self.classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        self.samples = [(str(f), i) for i, c in enumerate(self.classes) for f in sorted((root / c).iterdir())]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, target = self.samples[index]
        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        return torch.from_numpy(pixels.copy()).permute(2, 0, 1), target


def _epoch(loader, start: float, dtypes=(torch.uint8, torch.float32), epochs: int = 1) -> dict:
    """``epochs`` epochs of batches of ``dtypes`` images; also the throughput after each epoch's first batch
    (the steady state a training loop sees): its median over the epochs, and each epoch's."""
    first, rates = None, []
    items = 0
    for _ in range(epochs):
        epoch_items = epoch_start = 0
        for batch in loader:
            images = batch[0] if isinstance(batch, (list, tuple)) else batch["image"]
            if images.dtype not in dtypes or images.shape[1:] != (3, 64, 64):
                raise TypeError(f"unexpected images {images.dtype} {tuple(images.shape)}")
            if not epoch_start:
                epoch_start = time.perf_counter()
                first = first if first is not None else epoch_start - start
            else:
                epoch_items += len(images)
            items += len(images)
        steady = time.perf_counter() - epoch_start
        rates.append(epoch_items / steady if epoch_items else None)
    measured = sorted(rate for rate in rates if rate is not None)
    return {"items": items, "first_batch_s": first,
            "steady_per_s": measured[len(measured) // 2] if measured else None, "steady_per_s_epochs": rates}


def _loader(dataset):
    """torch's usual loader: one index per row, rows collated into batches."""
    generator = torch.Generator().manual_seed(0)
    return DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, num_workers=WORKERS, generator=generator)


@case
def load_imagefolder(root: str) -> dict:
    start = time.perf_counter()
    return _epoch(_loader(ImageFolder(root)), start)


@case
def load_png_column(path: str) -> dict:
    """Our 64-px dataset as built (PNG column), decoded per batch by ArrowBatches."""
    start = time.perf_counter()
    ds = datasets.load_from_disk(path)
    return _epoch(uint8_batches.batch_loader(ds, batch_size=BATCH_SIZE, num_workers=WORKERS), start)


@case
def decode_uint8(path: str, num_proc: int = 1) -> dict:
    """The one-time decode of the PNG column into the cached uint8 column."""
    ds = datasets.load_from_disk(path)
    return {"items": len(uint8_batches.decoded_uint8(ds, num_proc=num_proc))}


@case
def load_uint8(path: str) -> dict:
    """The fast path: cached uint8 column (memory-mapped), batches gathered by ArrowBatches."""
    start = time.perf_counter()
    ds = uint8_batches.decoded_uint8(datasets.load_from_disk(path))
    loader = uint8_batches.batch_loader(ds, batch_size=BATCH_SIZE, num_workers=WORKERS)
    return _epoch(loader, start)


@case
def load_tensors(x_path: str, y_path: str) -> dict:
    """The paper's loader: X.pt and y.pt loaded whole, TensorDataset, DataLoader."""
    start = time.perf_counter()
    x = torch.load(x_path, weights_only=True)
    y = torch.load(y_path, weights_only=True)
    return _epoch(_loader(TensorDataset(x, y)), start)


# (d): the Parquet copy

def _iterate_decoded(ds, start: float) -> dict:
    first = None
    items = 0
    for batch in ds.iter(batch_size=BATCH_SIZE):
        pixels = [np.asarray(image) for image in batch["image"]]
        if first is None:
            first = time.perf_counter() - start
        items += len(pixels)
    return {"items": items, "first_batch_s": first}


@case
def build_parquet(data_dir: str, config: str, out: str) -> dict:
    """Every publish job (part) of ``config``, one after another, into one output."""
    from conversion.hub_copy import publish

    parts = publish.build_parts_only(kinds.open_source(data_dir), out, [config], log=lambda line: None)
    return {"items": sum(part.rows() for part in parts)}


@case
def parquet_streaming(pattern: str) -> dict:
    start = time.perf_counter()
    ds = datasets.load_dataset("parquet", data_files={"train": pattern}, split="train", streaming=True)
    return _iterate_decoded(ds, start)


@case
def parquet_full(pattern: str, cache_dir: str) -> dict:
    start = time.perf_counter()
    ds = datasets.load_dataset("parquet", data_files={"train": pattern}, split="train", cache_dir=cache_dir)
    return _iterate_decoded(ds, start)


# (e): planning all six parts of a generator

PLAN_MODES = ("open_per_part", "one_open_six_plans", "one_open_one_plan")
"""How the six parts of one split are planned: an ``open_source`` and a ``split_plan`` per part (what a
build of each part does today), or one opened source planning each part, or all six at once."""


def _counting(calls: dict, key: str, function, counts=lambda *args: True):
    def counted(*args, **kwargs):
        if counts(*args):
            calls[key] += 1
        return function(*args, **kwargs)

    return counted


def _source_folder_under(root: str):
    """Whether a path is a source folder (``<split>/<ai|nature>``) under ``root``: what a scan lists."""
    root = os.path.abspath(root)

    def test(path=".", *_args) -> bool:
        path = Path(os.path.abspath(path))
        return (str(path).startswith(root) and path.name.lower() in tables.SOURCES
                and path.parent.name.lower() in {"train", "val"})

    return test


def _cpu() -> float:
    return time.process_time()


@case
def plan_parts(data_dir: str, generator: str = "sdv14", split: str = "train", mode: str = "open_per_part") -> dict:
    """Plan ``split`` of the generator's six parts, through the public API (``kinds.open_source``,
    ``split_plan``). Also counts the source folders listed (``os.scandir`` under ``data_dir``) and the file
    names parsed (``file_names.label_of``): a scan of one generator lists its four source folders
    (``<split>/<ai|nature>``; the listings of the folders above them are not counted)."""
    from conversion.sources import file_names

    if mode not in PLAN_MODES:
        raise ValueError(f"mode must be one of {PLAN_MODES}, got {mode!r}")
    calls = {"listings": 0, "names_parsed": 0}
    os.scandir = _counting(calls, "listings", os.scandir, _source_folder_under(data_dir))
    file_names.label_of = _counting(calls, "names_parsed", file_names.label_of)
    parts = [(generator, task) for task in range(configs.NUM_TASKS)]
    open_cpu = plan_cpu = 0.0
    items = 0

    def opened():
        nonlocal open_cpu
        start = _cpu()
        source = kinds.open_source(data_dir, [generator])
        open_cpu += _cpu() - start
        return source

    def planned(source, wanted):
        nonlocal plan_cpu, items
        start = _cpu()
        items += len(source.split_plan(split, wanted).items)
        plan_cpu += _cpu() - start

    if mode == "open_per_part":
        for part in parts:
            planned(opened(), [part])
    elif mode == "one_open_six_plans":
        source = opened()
        for part in parts:
            planned(source, [part])
    else:
        planned(opened(), parts)
    return {"items": items, "open_cpu_s": open_cpu, "plan_cpu_s": plan_cpu, **calls}


# (g): publishing from a tensor release

def _pillow_png(pixels) -> bytes:
    """The stored PNG as Pillow encoded it before libspng did: pixels copied into a bare image, saved."""
    image = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels, "RGB")
    bare = Image.frombytes(image.mode, image.size, image.tobytes())
    buffer = io.BytesIO()
    bare.save(buffer, format="PNG")
    return buffer.getvalue()


def _spng_png(pixels) -> bytes:
    """The stored PNG as libspng encoded it before libpng's Paeth filter did: each row's filter chosen."""
    return imagecodecs.spng_encode(np.ascontiguousarray(pixels, dtype=np.uint8))


ENCODERS = {"pillow": _pillow_png, "spng": _spng_png}
"""The encoders of the stored PNGs before the package's own (``release_pipeline.png_bytes``), by name."""


@case
def encode_release_pngs(data_dir: str, encoder: str = "") -> dict:
    """Every row of the release turned back into uint8 and stored as PNG (nothing else): by the package's
    encoder (``release_pipeline.png_bytes``), or by one of :data:`ENCODERS`, the encoders before."""
    from conversion.pixels import release_pipeline
    from conversion.sources import release

    encode = ENCODERS[encoder] if encoder else release_pipeline.png_bytes
    rows = stored = 0
    for pair in kinds.open_source(data_dir).pairs:
        x = torch.load(pair.x_path, weights_only=True)
        for image in release.exact_uint8(x, pair.x_path).permute(0, 2, 3, 1).contiguous().numpy():
            stored += len(encode(image))
            rows += 1
    return {"items": rows, "png_bytes": stored, "process_threads": torch.get_num_threads(), "row_threads": []}


@case
def publish_release(data_dir: str, out: str, torch_threads: int = 0, encoder: str = "") -> dict:
    """``publish.build_mirror`` of the release (opened here) into ``out`` in this process (card, figures and all);
    ``torch_threads`` > 0 sets ``torch.set_num_threads`` first; ``encoder`` (a name in :data:`ENCODERS`) stores
    PNGs made by an encoder used before the package's. Records torch's thread count in the per-row torch work
    (``release.exact_uint8``, each batch of rows turned back into uint8 and checked)."""
    from conversion.hub_copy import publish
    from conversion.pixels import release_pipeline
    from conversion.sources import release

    if encoder:
        release_pipeline.png_bytes = ENCODERS[encoder]

    if torch_threads:
        torch.set_num_threads(torch_threads)
    process_threads = torch.get_num_threads()
    seen = set()
    exact_uint8 = release.exact_uint8

    def watched(*args, **kwargs):
        seen.add(torch.get_num_threads())
        return exact_uint8(*args, **kwargs)

    release.exact_uint8 = watched
    mirror = publish.build_mirror(kinds.open_source(data_dir), out, log=lambda *args: None)
    return {"items": mirror.rows(), "process_threads": process_threads, "row_threads": sorted(seen)}


# (h): one task's epoch through the CL builders vs the paper's TensorDataset (CL environment)

def _task_config(release: str, cache: str, config: str):
    return GenImageCL(config_name=config, data_dir=release, cache_dir=cache).as_dataset()


def _task_view(release: str, cache: str, config: str):
    from conversion.uses import streams

    return streams.tasks(_task_config(release, cache, config), splits=("train",))[0].train


H_EPOCHS = 5
"""Epochs of each case of group h: its images/s is the median over them (one epoch is under a second)."""


def _float_epoch(loader, start: float) -> dict:
    return _epoch(loader, start, dtypes=(torch.float32,), epochs=H_EPOCHS)


@case
def task_tensors(x_paths: list[str], y_paths: list[str]) -> dict:
    """The paper's way: the task's normalized float32 X.pt (both sources) in memory, TensorDataset."""
    start = time.perf_counter()
    x = torch.cat([torch.load(path, weights_only=True) for path in x_paths])
    y = torch.cat([torch.load(path, weights_only=True) for path in y_paths])
    return _float_epoch(_loader(TensorDataset(x, y)), start)


@case
def task_decode(release: str, cache: str, config: str, preprocess: str | None = None) -> dict:
    """The one-time decode of the task's train view into the cached uint8 column (what the loaders below read),
    or with ``preprocess`` the one-time computation of those inputs from it (cached too)."""
    from conversion.uses import model_inputs

    start = time.perf_counter()
    view = _task_view(release, cache, config)
    decoded = uint8_batches.decoded_uint8(view)
    if preprocess:
        start = time.perf_counter()
        model_inputs.computed(decoded, preprocess)
    return {"items": len(view), "first_batch_s": time.perf_counter() - start}


@case
def task_pairs(release: str, cache: str, config: str, preprocess: str | None = "normalized",
               cache_inputs: bool = True) -> dict:
    """Pairs over the task's train view: normalized float32 (X.pt's values; ``cache_inputs=False``: computed
    per batch, not read from the inputs cached once), or uint8 with ``preprocess=None``."""
    from conversion.uses import paper_inputs
    from conversion.uses.torch_pairs import Pairs

    start = time.perf_counter()
    view = _task_view(release, cache, config)
    if preprocess is None:
        return _epoch(_loader(Pairs(view)), start, dtypes=(torch.uint8,), epochs=H_EPOCHS)
    pairs = Pairs(view, transform=paper_inputs.transform(preprocess), cache_inputs=cache_inputs)
    return _float_epoch(_loader(pairs), start)


@case
def task_avalanche(release: str, cache: str, config: str) -> dict:
    """The task's train experience of avalanche_benchmark(preprocess="normalized")."""
    import avalanche.benchmarks.scenarios  # noqa: F401 (imported before the clock, as the other cases' imports)

    from conversion.uses import cl_libraries

    start = time.perf_counter()
    benchmark = cl_libraries.avalanche_benchmark(_task_config(release, cache, config), preprocess="normalized")
    return _float_epoch(_loader(benchmark.train_stream[0].dataset), start)


@case
def task_continuum(release: str, cache: str, config: str) -> dict:
    """The task's train task set of continuum_scenario(preprocess="normalized")."""
    import continuum  # noqa: F401 (imported before the clock, as the other cases' imports)

    from conversion.uses import cl_libraries

    start = time.perf_counter()
    scenario = cl_libraries.continuum_scenario(_task_config(release, cache, config), preprocess="normalized")
    return _float_epoch(_loader(scenario[0]), start)


SIDE_BY_SIDE_ROUNDS = 7
"""Rounds of group h's side-by-side case: one epoch of each loader a round."""


@case
def task_side_by_side(release: str, cache: str, config: str, x_paths: list[str], y_paths: list[str],
                      rounds: int = SIDE_BY_SIDE_ROUNDS) -> dict:
    """The paper's TensorDataset and the three CL builders' normalized float32 datasets in one process, one
    epoch of each per round, the order turned by one each round (no loader always first after another):
    the images/s of every epoch after its first batch, by loader."""
    import avalanche.benchmarks.scenarios  # noqa: F401
    import continuum  # noqa: F401

    from conversion.uses import cl_libraries, paper_inputs
    from conversion.uses.torch_pairs import Pairs

    x = torch.cat([torch.load(path, weights_only=True) for path in x_paths])
    y = torch.cat([torch.load(path, weights_only=True) for path in y_paths])
    ds = _task_config(release, cache, config)
    loaders = {
        "TensorDataset": TensorDataset(x, y),
        "Pairs": Pairs(_task_view(release, cache, config), transform=paper_inputs.normalized),
        "Avalanche": cl_libraries.avalanche_benchmark(ds, preprocess="normalized").train_stream[0].dataset,
        "Continuum": cl_libraries.continuum_scenario(ds, preprocess="normalized")[0],
    }
    names = list(loaders)
    rates = {name: [] for name in names}
    items = 0
    for round_index in range(rounds):
        for name in names[round_index % len(names):] + names[: round_index % len(names)]:
            result = _epoch(_loader(loaders[name]), time.perf_counter(), dtypes=(torch.float32,))
            rates[name].append(result["steady_per_s"])
            items += result["items"]
    return {"items": items, "side_by_side": rates}
