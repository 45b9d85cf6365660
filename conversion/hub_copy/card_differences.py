"""The dataset card's section on differences from the release, with counts from build reports."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from string import Template

from conversion.builder import build_report
from conversion.pixels import decode

TEMPLATE = Path(__file__).resolve().parents[2] / "dataset_card" / "differences.md"


def _unique_rows(reports: list[dict], key: str) -> list[dict]:
    """Rows of ``key`` over all reports, each file once (configs overlap, e.g. ``sdv14`` and ``disjoint``)."""
    rows = {}
    for report in reports:
        for row in report[key]:
            rows[row["split"], row["path"]] = row
    return [rows[k] for k in sorted(rows)]


def _table(skipped: list[dict], dropped: list[dict]) -> str:
    """Markdown: per generator, files kept where the release dropped them, and skips per reason kind."""
    kinds = Counter((r["generator"], r["reason"].split(":", 1)[0]) for r in skipped)
    kept = Counter(r["generator"] for r in dropped)
    generators = sorted({r["generator"] for r in skipped + dropped})
    if not generators:
        return "No file was left out, and none kept that the release dropped."
    columns = sorted({kind for _, kind in kinds})
    lines = ["| generator | kept, release dropped | " + " | ".join(f"skipped: {c}" for c in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    for g in generators:
        lines.append(f"| {g} | {kept[g]} | " + " | ".join(str(kinds[g, c]) for c in columns) + " |")
    return "\n".join(lines)


def write_listing(reports: list[dict], path: str | os.PathLike) -> Path:
    """CSV of every file left out and every image kept that the release dropped, each once (atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    build_report.write_csv(_unique_rows(reports, "skipped") + _unique_rows(reports, "differences"), path)
    return path


def render(reports: list[dict], listing: str | None = None) -> str:
    """The section with counts from ``reports`` (one per built config).

    ``listing``: the relative path of the :func:`write_listing` CSV shipped beside the card, if any.
    """
    skipped, dropped = _unique_rows(reports, "skipped"), _unique_rows(reports, "differences")
    listed = (f"Every such file is listed in [`{listing}`]({listing}) (path under the GenImage root, "
              f"generator, split, source, reason).\n\n") if listing else ""
    return Template(TEMPLATE.read_text()).substitute(
        listing=listed,
        kept_release_dropped=len(dropped),
        skipped=len(skipped),
        max_pixels=f"{decode.MAX_IMAGE_PIXELS:,}",
        table=_table(skipped, dropped),
    )
