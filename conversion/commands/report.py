"""Print the build report of a built config: totals per generator/split/source, skipped files, differences.

DIR may be a built config's folder (``builder.cache_dir``), a ``build_report.json`` file, or any folder
above them, such as the datasets cache: every report found below it is printed.

Example:
  python -m conversion report ~/.cache/huggingface/datasets/genimage_cl
"""

from __future__ import annotations

from pathlib import Path


NAME = "report"
HELP = "print the build report(s) found in a built config's folder or a cache tree"


def add_arguments(parser) -> None:
    parser.add_argument("path", type=Path, metavar="DIR_OR_CACHE", help="built config folder, report file, or cache folder")


def run(args) -> int:
    from conversion import build_report

    found = build_report.find(args.path)
    if not found:
        raise FileNotFoundError(f"no {build_report.REPORT_FILE} under {args.path}")
    for i, path in enumerate(found):
        if i:
            print()
        report = build_report.load(path)
        print(f"# {path}")
        print(build_report.format_report(report))
        print(build_report.summary_line(report, path))
    return 0
