"""Print the build report of a built config: totals per generator/split/source, skipped files, differences.

DIR_OR_FILE may be a built config's folder (``builder.cache_dir``), a ``build_report.json`` file, a folder
written by ``publish`` (its parts' reports are in ``.publish/reports/``), or any folder above
them, such as the datasets cache: every report found below it is printed, each with its image size
and check, then (for more than one) a grand total.

Example:
  python -m conversion report ~/.cache/huggingface/datasets/genimage_cl
  python -m conversion report genimage-cl     # a publish folder
"""

from __future__ import annotations

import json
from pathlib import Path

from conversion.commands import options

NAME = "report"
HELP = "print the build report(s) found in a built config's folder, a publish folder or a cache tree"


def add_arguments(parser) -> None:
    parser.add_argument("path", type=options.local_path, metavar="DIR_OR_FILE",
                        help="built config folder, report file, publish folder, or cache folder")


def find_reports(path: Path) -> list[Path]:
    """Build reports at ``path``: the file, the builder's reports below it, and a publish folder's."""
    from conversion.builder import build_report
    from conversion.hub_copy import publish

    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: give a built config's folder, a report file, "
                                f"a publish folder or a cache folder")
    found = build_report.find(path)
    if path.is_dir():
        found += sorted((path / publish.STATE_DIR / "reports").glob("*.json"))
    if not found:
        raise FileNotFoundError(f"no {build_report.REPORT_FILE} (of a built config) nor "
                                f"{publish.STATE_DIR}/reports/ (of a publish folder) under {path}")
    return found


def load(path: Path) -> dict:
    """A report file's content; a file that is not a build report fails naming it."""
    from conversion.builder import build_report

    try:
        report = build_report.load(path)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a build report: not JSON ({err})") from err
    if not isinstance(report, dict) or not {"config", "totals", "skipped"} <= set(report):
        raise ValueError(f"{path} is not a build report: JSON without its config, totals and skipped files")
    return report


def run(args) -> int:
    from conversion.builder import build_report

    reports = [(path, load(path)) for path in find_reports(args.path)]
    for i, (path, report) in enumerate(reports):
        if i:
            print()
        print(f"# {path}")
        print(build_report.format_report(report))
        print(build_report.summary_line(report, path))
    if len(reports) > 1:
        print(f"\n{grand_total([report for _, report in reports])}")
    return 0


def grand_total(reports: list[dict]) -> str:
    """One line summing the totals of every report printed (a publish folder holds one per part)."""
    from conversion.builder import build_report

    sums = [build_report.sums(report) for report in reports]
    total = {key: sum(s[key] for s in sums) for key in sums[0]}
    return (f"grand total of {len(reports)} reports: {total['found']} files found, {total['kept']} kept, "
            f"{total['skipped']} skipped, {total['excluded']} excluded by class, "
            f"{total['kept_release_dropped']} kept that the release dropped")
