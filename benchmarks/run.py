"""Run the benchmarks on one synthetic corpus and print/write the tables (see README.md).

Example (the README's numbers):
  python -m benchmarks.run --images 3000 --workdir benchmarks/results

Groups: a) 64-px conversion vs the original pipeline and decode-only; b) full-resolution
conversion vs plain reading; c) training-style loading at two dataset sizes; d) the Parquet copy,
streamed vs read fully; e) planning a generator's six parts (one source opened per part vs once);
f) num_proc 2 vs 1 on one task of a tree listing a whole generator; g) publishing from a tensor
release in one process (the PNG encoders: Pillow, libspng, libpng's Paeth filter; torch at its default
threads vs OMP_NUM_THREADS=1). Every case runs in its own process (benchmarks/measure.py). Groups e-g need no
image corpus but their own trees (--listing-files, --release-rows; f also a one-task corpus of --images
images).
h) one epoch of one task (--task-rows train rows from a sample release) through Pairs, Avalanche and
Continuum vs the paper's TensorDataset; it needs the CL environment (requirements-cl.txt).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
from pathlib import Path

from benchmarks import corpus as corpus_module
from benchmarks import listing_tree, release_corpus, task_release
from benchmarks.measure import run_case
from conversion.contract import configs

IMAGE_GROUPS = ("a", "b", "c", "d")
"""Groups on the image corpus (``--images`` images of ``--config``)."""
GROUPS = (*IMAGE_GROUPS, "e", "f", "g", "h")


class Bench:
    """Collects rows: (group, label, result, label of the row it is compared with)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.rows: list[dict] = []

    def run(self, group: str, label: str, case: str, baseline: str | None = None, fresh: list[Path] = (),
            extra_env: dict | None = None, **params):
        for path in fresh:
            shutil.rmtree(path, ignore_errors=True)
        print(f"[{group}] {label} ...", flush=True)
        env = {k: str(v) for k, v in (extra_env or {}).items()}
        result = run_case(case, env, **{k: str(v) if isinstance(v, Path) else v for k, v in params.items()})
        row = {"group": group, "label": label, "baseline": baseline, **result}
        self.rows.append(row)
        print(f"    {result['items']} items in {result['seconds']:.2f} s, private peak {result['private_mb']:.0f} MB",
              flush=True)
        return row

    def find(self, label: str) -> dict:
        return next(row for row in self.rows if row["label"] == label)

    def throughput(self, label: str) -> float:
        """Images per second: after the first batch for loaders, over the whole run otherwise."""
        row = self.find(label)
        return row.get("steady_per_s") or row["items"] / row["seconds"]

    def ratio(self, label: str, other: str) -> float:
        return self.throughput(label) / self.throughput(other)

    def cpu_ratio(self, label: str, other: str) -> float:
        """The same ratio by images per CPU second (all processes of a case): work done, whatever the load."""
        mine, theirs = self.find(label), self.find(other)
        return (mine["items"] / mine["cpu_seconds"]) / (theirs["items"] / theirs["cpu_seconds"])


def bench_conversion(bench: Bench, data_dir: Path, config: str) -> None:
    work = bench.workdir / "work"
    baseline = "original pipeline (3 steps)"
    bench.run("a", baseline, "original", data_dir=data_dir, config=config, work=work / "original",
              fresh=[work / "original"])
    for n in (1, 2):
        bench.run("a", f"decode-only, {n} proc", "decode_only", baseline, data_dir=data_dir, config=config, num_proc=n)
    bench.run("a", "decode-only, imagecodecs, 1 proc", "decode_only", baseline, data_dir=data_dir, config=config,
              decoder="imagecodecs")
    cache = work / "convert64-pillow"
    bench.run("a", "ours 64 px, Pillow alone, num_proc 1", "convert", baseline, fresh=[cache], data_dir=data_dir,
              config=config, cache_dir=cache, fast=False)
    for n in (1, 2):
        cache = work / f"convert64-np{n}"
        bench.run("a", f"ours 64 px, num_proc {n}", "convert", baseline, fresh=[cache], data_dir=data_dir,
                  config=config, cache_dir=cache, num_proc=n)


def bench_original_size(bench: Bench, data_dir: Path, config: str) -> None:
    work = bench.workdir / "work"
    baseline = "plain read of every file"
    bench.run("b", baseline, "read_bytes", data_dir=data_dir, config=config)
    copy = work / "copy" / "all-files.bin"
    bench.run("b", "copy of every file into one file (read + write)", "copy_bytes", baseline, fresh=[copy.parent],
              data_dir=data_dir, config=config, out=copy)
    for n in (1, 2):
        cache = work / f"convert-original-np{n}"
        bench.run("b", f"ours original bytes, num_proc {n}", "convert", baseline, fresh=[cache], data_dir=data_dir,
                  config=config, cache_dir=cache, num_proc=n, image_size="original")
    for check in ("decode", "structure"):
        bench.run("b", f"{check} check alone (read + check every file, nothing written)", "check_only", baseline,
                  data_dir=data_dir, config=config, check=check)
    for check in ("structure", "none"):
        cache = work / f"convert-original-{check}"
        bench.run("b", f"ours original bytes, check {check}, num_proc 1", "convert", baseline, fresh=[cache],
                  data_dir=data_dir, config=config, cache_dir=cache, image_size="original", check=check)


def prepare_loading(workdir: Path, data_dir: Path, config: str, scale: int) -> dict[str, Path]:
    """The 64-px train split repeated ``scale`` times: as a saved dataset, an ImageFolder of its
    PNGs (hard links for repeats), and the paper's normalized float32 X.pt / int64 y.pt."""
    import datasets
    import numpy as np
    import torch

    from conversion.contract import tables
    from genimage_cl import GenImageCL

    base = workdir / "loading" / f"x{scale}"
    paths = {"arrow": base / "arrow", "folder": base / "imagefolder", "x": base / "X.pt", "y": base / "y.pt"}
    done = base / "complete"
    if done.exists():
        return paths
    shutil.rmtree(base, ignore_errors=True)
    builder = GenImageCL(config_name=config, data_dir=str(data_dir), cache_dir=str(workdir / "work" / "cache64"))
    builder.download_and_prepare(num_proc=2)
    train = builder.as_dataset("train")
    datasets.concatenate_datasets([train] * scale).save_to_disk(str(paths["arrow"]))
    plain = train.cast_column("image", datasets.Image(decode=False))
    release = tables.release_pixels()
    mean = torch.tensor(release["mean"]).view(3, 1, 1)
    std = torch.tensor(release["std"]).view(3, 1, 1)
    xs, ys = [], []
    wnids, clsloc = tables.wnids(), tables.clsloc_of_label()
    for row, pixels in zip(plain, train.with_format("numpy", columns=["image"])["image"]):
        folder = paths["folder"] / wnids[row["label"]]
        folder.mkdir(parents=True, exist_ok=True)
        first = folder / f"{Path(row['file_name']).stem}_r0.png"
        first.write_bytes(row["image"]["bytes"])
        for r in range(1, scale):
            os.link(first, folder / f"{Path(row['file_name']).stem}_r{r}.png")
        u8 = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)
        xs.append((u8.float() / 255 - mean) / std)
        ys.append(clsloc[row["label"]] - 1)
    torch.save(torch.stack(xs).repeat(scale, 1, 1, 1), paths["x"])
    torch.save(torch.tensor(ys, dtype=torch.int64).repeat(scale), paths["y"])
    done.touch()
    return paths


def bench_loading(bench: Bench, data_dir: Path, config: str, scales: tuple[int, ...]) -> None:
    for scale in scales:
        paths = prepare_loading(bench.workdir, data_dir, config, scale)
        tag = f"x{scale}"
        folder = f"ImageFolder of the 64-px PNGs, {tag}"
        tensors = f"in-memory tensors (paper), {tag}"
        for stale in paths["arrow"].glob("cache-*.arrow"):
            stale.unlink()
        bench.run("c", folder, "load_imagefolder", root=paths["folder"])
        bench.run("c", f"ours PNG column, {tag}", "load_png_column", folder, path=paths["arrow"])
        bench.run("c", tensors, "load_tensors", x_path=paths["x"], y_path=paths["y"])
        bench.run("c", f"ours: decode once to uint8 (one-time, cached), {tag}", "decode_uint8", path=paths["arrow"])
        bench.run("c", f"ours uint8 fast path, {tag}", "load_uint8", tensors, path=paths["arrow"])


def bench_parquet(bench: Bench, data_dir: Path, config: str) -> None:
    out = bench.workdir / "work" / "parquet"
    bench.run("d", f"publish jobs of {config} into Parquet (one after another)", "build_parquet", fresh=[out],
              data_dir=data_dir, config=config, out=out)
    pattern = str(out / "data" / "*" / "*" / "train-*.parquet")
    baseline = "Parquet read fully (load_dataset)"
    cache = bench.workdir / "work" / "parquet-cache"
    bench.run("d", baseline, "parquet_full", fresh=[cache], pattern=pattern, cache_dir=cache)
    bench.run("d", "Parquet streamed (streaming=True)", "parquet_streaming", baseline, pattern=pattern)


PLAN_LABELS = {
    "open_per_part": "one open_source + split_plan per part (6 opens)",
    "one_open_six_plans": "one open_source, split_plan per part (6 plans)",
    "one_open_one_plan": "one open_source, one split_plan of the 6 parts",
}


def bench_planning(bench: Bench, tree: Path, generator: str) -> None:
    """(e) CPU s to plan the train split of the generator's six parts, baseline: a source opened per part."""
    work = bench.workdir / "work"
    baseline = PLAN_LABELS["open_per_part"]
    for mode, label in PLAN_LABELS.items():
        digests = work / "digests-planning"
        bench.run("e", label, "plan_parts", None if mode == "open_per_part" else baseline, fresh=[digests],
                  extra_env={"GENIMAGE_CL_DIGESTS": digests}, data_dir=tree, generator=generator, mode=mode)


def bench_num_proc(bench: Bench, tree: Path, config: str) -> None:
    """(f) the same one-task build with num_proc 1 and 2, each with a fresh cache and digest store."""
    work = bench.workdir / "work"
    for n in (1, 2):
        cache, digests = work / f"num-proc-{n}", work / f"digests-num-proc-{n}"
        bench.run("f", f"{config}, num_proc {n}", "convert", None if n == 1 else f"{config}, num_proc 1",
                  fresh=[cache, digests], extra_env={"GENIMAGE_CL_DIGESTS": digests}, data_dir=tree, config=config,
                  cache_dir=cache, num_proc=n)


def bench_release(bench: Bench, release_dir: Path) -> None:
    """(g) publish from the release in one process: with Pillow's PNG encoder (the first, baseline), with
    libspng (the next), with the package's (libpng, Paeth filter), each at OMP_NUM_THREADS=1, and with the
    package's at torch's default threads. Before them, the PNG encoding alone with each encoder."""
    work = bench.workdir / "work"
    one = {"OMP_NUM_THREADS": 1}
    alone = "PNG encoding alone, Pillow"
    bench.run("g", alone, "encode_release_pngs", extra_env=one, data_dir=release_dir, encoder="pillow")
    bench.run("g", "PNG encoding alone, libspng", "encode_release_pngs", alone, extra_env=one,
              data_dir=release_dir, encoder="spng")
    bench.run("g", "PNG encoding alone, libpng Paeth", "encode_release_pngs", alone, extra_env=one,
              data_dir=release_dir)
    before, single = "publish, Pillow's PNG encoder, OMP_NUM_THREADS=1", "publish, OMP_NUM_THREADS=1"
    out, digests = work / "publish-release", work / "digests-publish"
    one_thread = {"OMP_NUM_THREADS": 1, "GENIMAGE_CL_DIGESTS": digests}
    bench.run("g", before, "publish_release", fresh=[out, digests], extra_env=one_thread, data_dir=release_dir,
              out=out, encoder="pillow")
    bench.run("g", "publish, libspng, OMP_NUM_THREADS=1", "publish_release", before, fresh=[out, digests],
              extra_env=one_thread, data_dir=release_dir, out=out, encoder="spng")
    bench.run("g", single, "publish_release", before, fresh=[out, digests], extra_env=one_thread,
              data_dir=release_dir, out=out)
    bench.run("g", "publish, default threads", "publish_release", single, fresh=[out, digests],
              extra_env={"GENIMAGE_CL_DIGESTS": digests}, data_dir=release_dir, out=out)


TARGET_CPU_NUM_PROC = 1.1
TARGET_MEMORY_NUM_PROC = 1.3
TARGET_RELEASE_ROWS_PER_S = 1000


def bench_training(bench: Bench, manifest: dict) -> None:
    """(h) one epoch of one task's train rows through each CL builder vs the paper's TensorDataset of them."""
    baseline = "the paper's TensorDataset of X.pt in memory (normalized float32)"
    task = {"release": manifest["release"], "cache": manifest["cache"], "config": manifest["config"]}
    bench.run("h", baseline, "task_tensors", x_paths=manifest["x"], y_paths=manifest["y"])
    bench.run("h", "decode once to the uint8 column (one-time, cached)", "task_decode", **task)
    bench.run("h", "compute the normalized inputs once from it (one-time, cached)", "task_decode",
              preprocess="normalized", **task)
    bench.run("h", "Pairs, normalized float32", "task_pairs", baseline, **task)
    bench.run("h", "Pairs, normalized float32 computed per batch (cache_inputs=False)", "task_pairs", baseline,
              cache_inputs=False, **task)
    bench.run("h", "avalanche_benchmark(preprocess='normalized'), train experience", "task_avalanche", baseline, **task)
    bench.run("h", "continuum_scenario(preprocess='normalized'), task set", "task_continuum", baseline, **task)
    bench.run("h", "Pairs, uint8 (no transform: normalize on the device)", "task_pairs", baseline, preprocess=None,
              **task)
    bench.run("h", SIDE_BY_SIDE, "task_side_by_side", x_paths=manifest["x"], y_paths=manifest["y"], **task)


SIDE_BY_SIDE = "side by side in one process"
"""Group h's case that runs the TensorDataset and the three builders' datasets in turns, in one process."""


def side_by_side(bench: Bench) -> dict[str, tuple[float, float]] | None:
    """Loader -> (median images/s over the side-by-side rounds, that median over the TensorDataset's)."""
    row = next((row for row in bench.rows if row["label"] == SIDE_BY_SIDE), None)
    if row is None:
        return None
    medians = {name: statistics.median(rates) for name, rates in row["side_by_side"].items()}
    return {name: (median, median / medians["TensorDataset"]) for name, median in medians.items()}


def scaling_targets(bench: Bench) -> list[tuple[str, float, float | None, str, bool | None]]:
    """Issue 17's targets for the rows of groups e-g that were run (same shape as :func:`targets`)."""
    checks = []
    rows = {row["label"]: row for row in bench.rows}
    plan_base = rows.get(PLAN_LABELS["open_per_part"])
    for mode in ("one_open_six_plans", "one_open_one_plan"):
        row = rows.get(PLAN_LABELS[mode])
        if row:
            scans = row["listings"] / 4
            checks.append((f"planning 6 parts, {PLAN_LABELS[mode]}: scans of the generator (4 folder listings each)",
                           scans, None, "1 scan", scans <= 1))
            if plan_base:
                checks.append((f"planning 6 parts, {PLAN_LABELS[mode]} vs one open per part: CPU s ratio",
                               row["cpu_seconds"] / plan_base["cpu_seconds"], None, "(reference)", None))
    one = next((row for row in bench.rows if row["group"] == "f" and row["label"].endswith("num_proc 1")), None)
    two = next((row for row in bench.rows if row["group"] == "f" and row["label"].endswith("num_proc 2")), None)
    if one and two:
        cpu = two["cpu_seconds"] / one["cpu_seconds"]
        memory = two["private_mb"] / one["private_mb"]
        checks.append(("num_proc 2 / num_proc 1: CPU s (process + children)", cpu, None,
                       f"<= {TARGET_CPU_NUM_PROC}x", cpu <= TARGET_CPU_NUM_PROC))
        checks.append(("num_proc 2 / num_proc 1: peak private memory (PSS, process tree)", memory, None,
                       f"<= {TARGET_MEMORY_NUM_PROC}x", memory <= TARGET_MEMORY_NUM_PROC))
        checks.append(("num_proc 2 / num_proc 1: wall time", two["seconds"] / one["seconds"], None, "(reference)",
                       None))
    for row in bench.rows:
        if row["group"] == "g" and row["label"].startswith("PNG encoding"):
            if row["baseline"]:
                base = next(other for other in bench.rows if other["label"] == row["baseline"])
                checks.append((f"{row['label']} vs {row['baseline']}: rows per CPU s (by CPU s); stored bytes ratio",
                               bench.cpu_ratio(row["label"], row["baseline"]), row["png_bytes"] / base["png_bytes"],
                               "(reference)", None))
        elif row["group"] == "g":
            per_s = row["items"] / row["seconds"]
            checks.append((f"{row['label']}: rows/s (by CPU s: rows per CPU second)", per_s,
                           row["items"] / row["cpu_seconds"], f">= {TARGET_RELEASE_ROWS_PER_S}",
                           per_s >= TARGET_RELEASE_ROWS_PER_S))
            threads = max(row["row_threads"] or [0])
            checks.append((f"{row['label']}: torch threads during per-row work", threads, None, "1", threads == 1))
            if row["baseline"]:
                checks.append((f"{row['label']} vs {row['baseline']}: rows/s",
                               bench.ratio(row["label"], row["baseline"]),
                               bench.cpu_ratio(row["label"], row["baseline"]), "(reference)", None))
    return checks


def scaling_markdown(bench: Bench, titles: dict[str, str]) -> list[str]:
    """Tables of groups e-g: CPU seconds and memory side by side with the in-run baseline."""
    lines = []

    def ratio(row, key):
        base = next((other for other in bench.rows if other["label"] == row["baseline"]), None)
        return f"{row[key] / base[key]:.2f}x" if base else "baseline"

    for group, header, cells in (
        ("e", "| case | items planned | CPU s | CPU vs baseline | open CPU s | plan CPU s | folder listings "
              "| names parsed | wall s | peak private MB | load avg |",
         lambda r: f"| {r['label']} | {r['items']:,} | {r['cpu_seconds']:.2f} | {ratio(r, 'cpu_seconds')} | "
                   f"{r['open_cpu_s']:.2f} | {r['plan_cpu_s']:.2f} | {r['listings']} | {r['names_parsed']:,} | "
                   f"{r['seconds']:.2f} | {r['private_mb']:.0f} | {r['load_before']:.1f} |"),
        ("f", "| case | images | wall s | wall vs baseline | CPU s (process + children) | CPU vs baseline "
              "| peak private MB (PSS, tree) | private vs baseline | peak RSS main / worker MB | load avg |",
         lambda r: f"| {r['label']} | {r['items']} | {r['seconds']:.2f} | {ratio(r, 'seconds')} | "
                   f"{r['cpu_seconds']:.1f} | "
                   f"{ratio(r, 'cpu_seconds')} | {r['private_mb']:.0f} | {ratio(r, 'private_mb')} | "
                   f"{r['rss_self_mb']:.0f} / {r['rss_child_mb']:.0f} | {r['load_before']:.1f} |"),
        ("g", "| case | rows | wall s | rows/s | CPU s | rows per CPU s | CPU vs baseline | torch threads: process / "
              "per-row work | peak private MB | load avg |",
         lambda r: f"| {r['label']} | {r['items']} | {r['seconds']:.2f} | {r['items'] / r['seconds']:.0f} | "
                   f"{r['cpu_seconds']:.1f} | {r['items'] / r['cpu_seconds']:.0f} | {ratio(r, 'cpu_seconds')} | "
                   f"{r['process_threads']} / {', '.join(map(str, r['row_threads'])) or '-'} | {r['private_mb']:.0f} | "
                   f"{r['load_before']:.1f} |"),
    ):
        rows = [row for row in bench.rows if row["group"] == group]
        if rows:
            columns = header.count("|") - 1
            lines += ["", f"**{titles[group]}**", "", header, "|---|" + "---:|" * (columns - 1)]
            lines += [cells(row) for row in rows]
    return lines


def targets(bench: Bench) -> list[tuple[str, float, float | None, str, bool]]:
    """(what, measured, measured by CPU seconds, target, met) for each target of issues 5 and 12 whose
    rows were run. The CPU-seconds ratio is less sensitive to other jobs on the machine; it is left
    out where processes are compared with more processes."""
    labels = {row["label"] for row in bench.rows}
    checks = []

    def check(what, label, other, target, met=lambda v: True, cpu=True):
        if {label, other} <= labels:
            value = bench.ratio(label, other)
            by_cpu = bench.cpu_ratio(label, other) if cpu else None
            checks.append((what, value, by_cpu, target, met(value) if target != "(reference)" else None))

    ours1, ours2, original = "ours 64 px, num_proc 1", "ours 64 px, num_proc 2", "original pipeline (3 steps)"
    plain, copy = "plain read of every file", "copy of every file into one file (read + write)"
    check("64 px, num_proc 1 vs original pipeline", ours1, original, ">= 5x", lambda v: v >= 5)
    check("64 px, num_proc 1 vs decode-only, 1 proc", ours1, "decode-only, 1 proc", ">= 0.85x", lambda v: v >= 0.85)
    check("64 px, num_proc 1 vs decode-only, imagecodecs, 1 proc", ours1, "decode-only, imagecodecs, 1 proc",
          "(reference)")
    check("64 px, num_proc 1 vs Pillow alone", ours1, "ours 64 px, Pillow alone, num_proc 1", "(reference)")
    check("64 px, num_proc 2 vs decode-only, 2 proc", ours2, "decode-only, 2 proc", ">= 0.5x", lambda v: v >= 0.5)
    check("64 px, num_proc 2 vs num_proc 1", ours2, ours1, ">= 1.8x", lambda v: v >= 1.8, cpu=False)
    check("original bytes, num_proc 1 vs read + write copy", "ours original bytes, num_proc 1", copy, "(reference)")
    check("original bytes, num_proc 1 vs plain read", "ours original bytes, num_proc 1", plain, "(reference)")
    check("structure check alone vs plain read", "structure check alone (read + check every file, nothing written)",
          plain, "(reference)")
    for name in ("structure", "none"):
        check(f"original bytes, check {name}, num_proc 1 vs plain read",
              f"ours original bytes, check {name}, num_proc 1",
              plain, ">= 0.5x" if name == "structure" else "(reference)", lambda v: v >= 0.5)
        check(f"original bytes, check {name}, num_proc 1 vs read + write copy",
              f"ours original bytes, check {name}, num_proc 1", copy, "(reference)")
    for row in bench.rows:
        if row["group"] == "c" and row["label"].startswith("ours PNG column"):
            check(f"{row['label']} vs ImageFolder", row["label"], row["baseline"], ">= 1.0x", lambda v: v >= 1.0,
                  cpu=False)
        if row["group"] == "c" and row["label"].startswith("ours uint8 fast path"):
            check(f"{row['label']} vs in-memory tensors", row["label"], row["baseline"], ">= 0.5x (within 2x)",
                  lambda v: v >= 0.5, cpu=False)
        if row.get("first_batch_s") is not None and row["label"].startswith("ours"):
            checks.append((f"time to first batch, {row['label']}", row["first_batch_s"], None, "< 2 s",
                           row["first_batch_s"] < 2))
        if row["group"] == "h" and row["baseline"] and "normalized" in row["label"]:
            check(f"(h) {row['label']} vs TensorDataset, each in its own process", row["label"], row["baseline"],
                  "(reference)", cpu=False)
    for name, (_, ratio) in (side_by_side(bench) or {}).items():
        if name != "TensorDataset":
            checks.append((f"(h) {name} vs TensorDataset, side by side: median images/s", ratio, None, ">= 1.0x",
                           ratio >= 1.0))
    return checks


def side_by_side_markdown(bench: Bench) -> list[str]:
    """Group h's side-by-side table: each loader's images/s in every round, median, and ratio of medians."""
    medians = side_by_side(bench)
    if medians is None:
        return []
    rates = next(row for row in bench.rows if row["label"] == SIDE_BY_SIDE)["side_by_side"]
    lines = ["", f"**h) side by side in one process: one epoch of each loader per round, {len(rates['Pairs'])} rounds, "
                 "images/s after each epoch's first batch (float32 normalized)**", "",
             "| loader | images/s, each round | median | vs TensorDataset |", "|---|---|---:|---:|"]
    for name, (median, ratio) in medians.items():
        each = ", ".join(f"{rate:,.0f}" for rate in rates[name])
        versus = "baseline" if name == "TensorDataset" else f"{ratio:.2f}x"
        lines.append(f"| {name} | {each} | {median:,.0f} | {versus} |")
    return lines


def markdown(bench: Bench, titles: dict[str, str]) -> str:
    lines = []
    for group in (*IMAGE_GROUPS, "h"):
        rows = [row for row in bench.rows if row["group"] == group]
        if not rows:
            continue
        lines += ["", f"**{titles[group]}**", "",
                  "| case | images | wall s | images/s | vs baseline | CPU s | first batch s "
                  "| peak RSS main / worker MB "
                  "| peak private MB | load avg |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for row in rows:
            if row["label"] == SIDE_BY_SIDE:
                continue
            if row["baseline"]:
                ratio = f"{bench.ratio(row['label'], row['baseline']):.2f}x"
            else:
                ratio = "baseline" if any(other["baseline"] == row["label"] for other in rows) else "-"
            first = f"{row['first_batch_s']:.2f}" if row.get("first_batch_s") is not None else ""
            lines.append(
                f"| {row['label']} | {row['items']} | {row['seconds']:.2f} | {bench.throughput(row['label']):.0f} | "
                f"{ratio} | {row['cpu_seconds']:.1f} | {first} | "
                f"{row['rss_self_mb']:.0f} / {row['rss_child_mb']:.0f} | "
                f"{row['private_mb']:.0f} | {row['load_before']:.1f} |"
            )
    lines += side_by_side_markdown(bench)
    lines += scaling_markdown(bench, titles)
    checks = targets(bench) + scaling_targets(bench)
    if checks:
        lines += ["", "**Targets** (measured: wall-time ratio unless the target says otherwise; by CPU s: items "
                  "per CPU second)", "",
                  "| target | measured | by CPU s | goal | met |", "|---|---:|---:|---|---|"]
        verdict = {True: "yes", False: "NO", None: "-"}
        lines += [f"| {what} | {value:.2f} | {'-' if by_cpu is None else f'{by_cpu:.2f}'} | {goal} | {verdict[met]} |"
                  for what, value, by_cpu, goal, met in checks]
    return "\n".join(lines)


def machine() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import datasets
    import PIL
    import torch

    return (f"{os.cpu_count()} CPUs ({cpu}), {memory:.0f} GB RAM, Linux {platform.release()}, Python "
            f"{platform.python_version()}, datasets {datasets.__version__}, torch {torch.__version__}, "
            f"Pillow {PIL.__version__}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("groups", nargs="*", metavar="GROUP", help=f"groups to run: {' '.join(GROUPS)} (default all)")
    parser.add_argument("--images", type=int, default=3000,
                        help="corpus size (default 3000); (f): images of its one task")
    parser.add_argument("--config", default="sdv14",
                        help="config the corpus covers and the builds build (default sdv14); (e-g) use its first "
                             "generator")
    parser.add_argument("--scales", type=int, nargs=2, default=(2, 8),
                        help="(c) dataset sizes as repeats of the 64-px train split")
    parser.add_argument("--listing-files", type=int, default=336_000,
                        help="(e, f) files the generator-shaped tree lists (default 336000, one real generator)")
    parser.add_argument("--release-rows", type=int, default=17_280,
                        help="(g) rows of the tensor release (default 17280)")
    parser.add_argument("--task-rows", type=int, default=10_000,
                        help="(h) train rows of the one task trained on (default 10000)")
    parser.add_argument("--workdir", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--render", action="store_true",
                        help="run nothing: print the tables of the last run in --workdir")
    args = parser.parse_args(argv)
    args.groups = args.groups or list(GROUPS)
    if not set(args.groups) <= set(GROUPS):
        parser.error(f"groups must be among {GROUPS}, got {args.groups}")
    bench = Bench(args.workdir)
    corpora = {}
    if args.render:
        bench.rows = json.loads((args.workdir / "results.json").read_text())
        known = args.workdir / "corpora.json"
        corpora = json.loads(known.read_text()) if known.exists() else {}
        manifest = args.workdir / "corpus" / corpus_module.MANIFEST
        if not known.exists() and manifest.exists():  # a run before corpora.json
            corpora["Corpus"] = corpus_module.describe(json.loads(manifest.read_text()))
        args.groups = []
    data_dir = args.workdir / "corpus"
    if set(args.groups) & set(IMAGE_GROUPS):
        manifest = corpus_module.make_corpus(data_dir, args.images, args.config)
        corpora["Corpus"] = corpus_module.describe(manifest)
        print("corpus:", corpora["Corpus"], flush=True)
    generator = configs.config_parts()[configs.resolve(args.config)][0][0]
    if "a" in args.groups:
        bench_conversion(bench, data_dir, args.config)
    if "b" in args.groups:
        bench_original_size(bench, data_dir, args.config)
    if "c" in args.groups:
        bench_loading(bench, data_dir, args.config, tuple(args.scales))
    if "d" in args.groups:
        bench_parquet(bench, data_dir, args.config)
    per_source = listing_tree.per_source_for(args.listing_files)
    if "e" in args.groups:
        tree = args.workdir / f"listing-tree-{args.listing_files}"
        corpora["Listing tree (e)"] = listing_tree.describe(listing_tree.make_listing_tree(tree, generator, per_source))
        print("listing tree:", corpora["Listing tree (e)"], flush=True)
        bench_planning(bench, tree, generator)
    if "f" in args.groups:
        task_config = configs.task_config_name(generator, 0)
        images = args.workdir / f"corpus-{task_config}-{args.images}"
        corpus_module.make_corpus(images, args.images, task_config)
        tree = args.workdir / f"listing-tree-{args.listing_files}-{task_config}-{args.images}"
        manifest = listing_tree.make_listing_tree(tree, generator, per_source, images_from=images)
        corpora["Listing tree (f)"] = listing_tree.describe(manifest) + f", the real ones those of {task_config}"
        print("listing tree:", corpora["Listing tree (f)"], flush=True)
        bench_num_proc(bench, tree, task_config)
    if "g" in args.groups:
        made = release_corpus.make_release(args.workdir / f"release-{generator}-{args.release_rows}", args.release_rows,
                                           generator)
        corpora["Release (g)"] = f"{made['rows']:,} rows of {generator} (24 X.pt/y.pt pairs)"
        print("release:", corpora["Release (g)"], flush=True)
        bench_release(bench, Path(made["release"]))
    if "h" in args.groups:
        made = task_release.make_task_release(args.workdir / f"task-release-{generator}-{args.task_rows}",
                                              args.task_rows, generator)
        corpora["Task (h)"] = f"{made['rows']:,} train rows of {made['config']}, built from a sample release"
        print("task:", corpora["Task (h)"], flush=True)
        bench_training(bench, made)
    titles = {
        "a": "a) 64-px conversion (baseline: the original three-step pipeline)",
        "b": "b) full-resolution conversion (baseline: plain reading of every file)",
        "c": "c) training-style loading: DataLoader, 2 workers, shuffled batches of 256, uint8 images "
             "(paper: float32); images/s after the first batch",
        "d": "d) the Parquet copy: streamed vs read fully (64-px train split, images decoded)",
        "e": "e) planning the train split of a generator's six parts (baseline: a source opened per part)",
        "f": "f) one task built with num_proc 2 vs 1 from a tree listing a whole generator (baseline: num_proc 1)",
        "g": "g) publishing from a tensor release in one process (baselines: Pillow's PNG encoder; OMP_NUM_THREADS=1)",
        "h": "h) one epoch of one task through the CL builders: DataLoader, 2 workers, shuffled batches of 256, "
             "float32 normalized images (baseline: the paper's TensorDataset); images/s after the first batch",
    }
    table = markdown(bench, titles)
    header = f"Machine: {machine()}.\n" + "".join(f"{name}: {text}.\n" for name, text in corpora.items())
    print("\n" + header + table)
    (args.workdir / "results.md").write_text(header + table + "\n")
    (args.workdir / "results.json").write_text(json.dumps(bench.rows, indent=1))
    (args.workdir / "corpora.json").write_text(json.dumps(corpora, indent=1))

if __name__ == "__main__":
    main()
