"""Generate a sample GenImage tree, build one config from it and print its counts.

The sample tree follows GenImage's real folder and file naming for all eight generators, so the
build exercises exactly what a real one does, in seconds.

Example:
  python -m conversion demo --config sdv14 --workdir genimage-cl-demo
  python -m conversion demo --config sdv15 --defects   # a tree with real-world defects; prints the build report
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path

from conversion.commands import options
from conversion.contract import configs

NAME = "demo"
HELP = "build a config from a generated sample GenImage tree and print its count table"
README_NEXT = "Continual learning"
"""The README section the demo points to next: its examples run on the demo's sample tree."""


def add_arguments(parser) -> None:
    parser.add_argument("--config", default="sdv14", type=options.config_name, metavar="CONFIG",
                        help="config to build (default: sdv14; e.g. disjoint, adm-task2)")
    parser.add_argument("--workdir", type=options.local_path, default=Path("genimage-cl-demo"),
                        help="folder for the sample tree and the datasets cache (default: ./genimage-cl-demo)")
    parser.add_argument("--num-proc", type=options.positive_int, default=None, help="processes for the build")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--defects", action="store_true",
                        help="add corrupt and odd files to the tree (ADM, BigGAN, GLIDE, SD v1.4/v1.5) and print "
                             "the build report")


def run(args) -> int:
    from conversion import progress
    from conversion.builder import build_report, count_tables
    from conversion.builder.genimage_cl import GenImageCL
    from conversion.samples import genimage_tree

    progress.configure(not args.no_progress)

    tree = args.workdir / ("GenImage-defects" if args.defects else "GenImage")
    if not tree.exists():
        print(f"writing sample GenImage tree to {tree}")
        genimage_tree.make_sample_tree(tree)
        if args.defects:
            genimage_tree.inject_defects(tree)
    start = time.perf_counter()
    builder = GenImageCL(config_name=args.config, data_dir=str(tree), cache_dir=str(args.workdir / "cache"))
    cached = Path(builder.cache_dir).is_dir()
    builder.download_and_prepare(num_proc=args.num_proc)
    dataset = builder.as_dataset()
    print(f"\nconfig {args.config}: {configs.describe(args.config)}")
    if cached:
        print(f"from cache: built before into {builder.cache_dir} (the tree is unchanged)\n")
    else:
        print(f"built in {time.perf_counter() - start:.1f} s into {builder.cache_dir}\n")
    print(count_tables.count_table(dataset))
    if args.defects:
        print()
        print(build_report.format_report(build_report.load(Path(builder.cache_dir) / build_report.REPORT_FILE)))
    print(next_steps(builder.cache_dir))
    return 0


def next_steps(cache_dir: str) -> str:
    """Where to go from here: the build report command (quoted for the shell) and the README section that
    loads this sample tree."""
    return (f"\nnext: python -m conversion report {shlex.quote(str(cache_dir))}   # the build report\n"
            f'      README.md, section "{README_NEXT}": train on this tree (task streams, Avalanche, Continuum, timm)')
