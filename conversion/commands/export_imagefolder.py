"""Write a config, one of its tasks, or one split as an ImageFolder tree for torchvision or timm.

Layouts: --layout class gives <out>/<split>/<wnid>/<file> (classification, 1000-class wnid
folders); --layout source gives <out>/<split>/{0_nature,1_ai}/<file> (real-versus-fake detection):
ImageFolder loaders sort folder names, so label 0 is nature and 1 is ai, as in the `source` column.
Splits are train (GenImage train) and test (GenImage val).

At the default 64 px the config is built (or taken from the datasets cache) and each image's PNG
bytes are written. With --image-size original and a raw GenImage tree, nothing is built: the
source files are hard-linked (same file system) or copied, each first decoded as a build would; files
that cannot be read are skipped and listed in <out>/skipped.txt. Files are written under a
temporary name and renamed: re-running after an interruption skips complete files.

Arguments, the source and --out are checked before anything is written. --out must be empty or
hold this same export (recorded in <out>/.genimage-cl-export.json), which is then resumed; --merge
adds an export to a folder that holds other files. --out and --data-dir must not lie inside each
other. One export at a time writes into --out: a second fails at once naming the first (or waits
for it, with --wait-lock). <out>/skipped.txt lists the files the last run skipped (none: no file).

Examples:
  python -m conversion export-imagefolder --data-dir /data/GenImage --config sdv14 --task 0 --out sdv14-t0
  python -m conversion export-imagefolder --data-dir /data/GenImage --config sdv14 --layout source \\
      --image-size original --out sdv14-detect
Load the result with datasets' imagefolder (or torchvision.datasets.ImageFolder on <out>/train):
  datasets.load_dataset("imagefolder", data_dir="sdv14-t0")
With --layout class, each split folder also holds datasets' metadata.jsonl (file_name and the row's
label, task_label, source, generator and task, as the project stores them), so imagefolder gives the
project's columns instead of labels numbered over the wnid folders present.
"""

from __future__ import annotations

import json
import time

from conversion import atomic_files, folder_lock, local_paths, regular_files
from conversion.commands import options
from conversion.contract import configs, tables
from conversion.sources import base  # the Source protocol: no source module imported with it
from conversion.uses import imagefolder

NAME = "export-imagefolder"
HELP = "write a config, task or split as an ImageFolder tree (<split>/<wnid>/ or <split>/{0_nature,1_ai}/)"
MARKER = ".genimage-cl-export.json"
"""In --out: the exports written there (their arguments), so that a re-run resumes only its own."""
LOCK = "export"
"""The name of --out's lock (:mod:`conversion.folder_lock`): one export at a time writes into a folder."""


def add_arguments(parser) -> None:
    parser.add_argument("--data-dir", type=options.local_path, required=True,
                        help="the unzipped GenImage root (or a build source)")
    parser.add_argument("--config", required=True, type=options.config_name, metavar="CONFIG",
                        help="config to export, e.g. sdv14, disjoint, adm-task2")
    parser.add_argument("--out", type=options.local_path, required=True,
                        help="folder to write the ImageFolder tree into")
    parser.add_argument("--task", type=int, default=None, help="export only this task (the task column, 0..5)")
    parser.add_argument("--split", choices=("train", "test", "both"), default="both", help="split(s) (default: both)")
    parser.add_argument("--source", choices=("both", *tables.SOURCES), default="both",
                        help="images to export: both, ai or nature (default: both)")
    parser.add_argument("--layout", choices=sorted(imagefolder.LAYOUTS), default="class",
                        help="class: <split>/<wnid>/; source: <split>/{0_nature,1_ai}/ (default: class)")
    parser.add_argument("--image-size", type=options.image_size, default=64, metavar="IMAGE_SIZE",
                        help="64 (the release's pixels, default), another size, or 'original'")
    parser.add_argument("--files", choices=imagefolder.FILE_MODES, default="auto",
                        help="original size from a raw tree: hard-link, copy, or link where possible (default: auto)")
    parser.add_argument("--cache-dir", type=options.local_path, default=None, help="datasets cache for the build")
    parser.add_argument("--num-proc", type=options.positive_int, default=None, help="processes for the build")
    parser.add_argument("--merge", action="store_true", help="write into an --out that holds other files or exports")
    parser.add_argument("--wait-lock", action="store_true",
                        help="if another export is writing --out, wait for it instead of failing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _settings(args) -> dict:
    return {"data_dir": str(args.data_dir.resolve()), "config": args.config, "task": args.task, "split": args.split,
            "source": args.source, "layout": args.layout, "image_size": args.image_size}


def check_arguments(args) -> None:
    """Fail before any work, writing nothing: a task not in the config, ``--files link`` for built
    pixels, --out and --data-dir inside each other, an --out that is a file, or one that is not empty
    without holding this export (unless --merge)."""
    tasks = sorted({t for _, t in configs.config_parts()[args.config]})
    if args.task is not None and args.task not in tasks:
        raise ValueError(f"--task {args.task} is not a task of {args.config} (its tasks: {', '.join(map(str, tasks))})")
    if args.files == "link" and args.image_size != options.ORIGINAL:
        raise ValueError("--files link needs --image-size original and a raw GenImage tree as --data-dir")
    local_paths.refuse_nested(args.data_dir, "--data-dir", args.out, "--out")
    if args.out.exists() and not args.out.is_dir():
        raise NotADirectoryError(f"--out {args.out} is a file, not a folder")
    earlier_exports(args)


def earlier_exports(args) -> list[dict]:
    """The exports recorded in --out; :class:`FileExistsError` if --out holds other files or exports and
    this export is not among them (unless --merge). The lock's state folder is not counted."""
    out = args.out
    try:
        earlier = json.loads(regular_files.read_text(out / MARKER))
    except (OSError, ValueError):
        earlier = []
    others = out.is_dir() and any(p.name != folder_lock.STATE_DIR for p in out.iterdir())
    if others and _settings(args) not in earlier and not args.merge:
        holds = "another export (re-run it to resume it)" if earlier else "other files"
        raise FileExistsError(f"--out {out} is not empty: it holds {holds}; choose an empty folder, or pass --merge "
                              f"to add this export to it")
    return earlier


def open_source(args) -> base.Source:
    """The config's source, opened once and checked before anything is written: a raw tree exported at
    original size gives its files straight from the listing, any other export builds from it."""
    from conversion.sources import kinds  # here, not at the top: ``python -m conversion --help`` stays quick

    keys = sorted({g for g, _ in configs.config_parts()[args.config]})
    source = kinds.open_source(args.data_dir, keys, args.image_size)
    if args.files == "link" and not (source.kind == kinds.RAW_TREE and args.image_size == options.ORIGINAL):
        raise ValueError("--files link needs a raw GenImage tree as --data-dir (it hard-links the source files)")
    return source


def create_out(out) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PermissionError(f"--out {out} cannot be created or written: {err.strerror or err}") from err


def record_export(args) -> None:
    """Check --out again (under its lock) and record this export in it."""
    out, settings = args.out, _settings(args)
    earlier = earlier_exports(args)
    try:
        atomic_files.write_json(out / MARKER, earlier if settings in earlier else [*earlier, settings], indent=1)
    except OSError as err:
        raise PermissionError(f"--out {out} cannot be created or written: {err.strerror or err}") from err


def _build(args, source: base.Source):
    """The config as built; for one task only that task's config (same rows, less to build)."""
    from conversion.builder.genimage_cl import GenImageCL

    config = args.config
    pairs = [(g, t) for g, t in configs.config_parts()[config] if t == args.task]
    if args.task is not None and len(pairs) == 1:
        config = configs.task_config_name(*pairs[0])
    builder = GenImageCL(config_name=config, source=source, image_size=args.image_size,
                         cache_dir=str(args.cache_dir) if args.cache_dir else None)
    builder.download_and_prepare(num_proc=args.num_proc)
    return builder.as_dataset()


def run(args) -> int:
    from conversion import progress

    check_arguments(args)
    source = open_source(args)
    progress.configure(not args.no_progress)
    create_out(args.out)
    with folder_lock.exclusive(args.out, LOCK, wait=args.wait_lock, writer="export"):
        record_export(args)
        start = time.perf_counter()
        outcome = export(args, source)
        if args.layout == "class":
            imagefolder.write_metadata(args.out, outcome.metadata)
        skipped = imagefolder.write_skip_list(args.out, outcome.skipped)
    print(summary(args, outcome, time.perf_counter() - start, skipped))
    return 0


def export(args, source: base.Source) -> imagefolder.Outcome:
    """Link or copy a raw tree's files at original size; else build the config and write its images."""
    from conversion.sources import kinds

    splits = ("train", "test") if args.split == "both" else (args.split,)
    if source.kind == kinds.RAW_TREE and args.image_size == options.ORIGINAL:
        items = imagefolder.select_items(source, configs.config_parts()[args.config], splits, args.task, args.source)
        return imagefolder.export_source_files(source, items, args.out, args.layout, args.files, not args.no_progress)
    views = imagefolder.select_views(_build(args, source), splits, args.task, args.source)
    return imagefolder.export_dataset(views, args.out, args.layout, not args.no_progress)


def summary(args, outcome: imagefolder.Outcome, seconds: float, skipped_file) -> str:
    what = args.config + (f" task {args.task}" if args.task is not None else "")
    lines = [f"\nexported {what} ({args.source} images, layout {args.layout}) to {args.out} in {seconds:.1f} s"]
    actions = ", ".join(f"{n} {action}" for action, n in sorted(outcome.actions.items())) or "no files"
    lines.append(f"files: {actions}; {outcome.bytes / 1e6:.1f} MB")
    for split in sorted({s for s, _ in outcome.folders}):
        folders = {f: n for (s, f), n in outcome.folders.items() if s == split}
        lines.append(f"  {split}: {sum(folders.values())} images in {len(folders)} folders")
    if skipped_file:
        lines.append(f"skipped {len(outcome.skipped)} unreadable file(s), listed in {skipped_file}")
    lines.append(f'load it with: datasets.load_dataset("imagefolder", data_dir={str(args.out)!r})')
    return "\n".join(lines)
