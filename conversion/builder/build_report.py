"""What a build kept, skipped and excluded, file by file, written beside the built dataset.

Skips come from two places: the plan (names that are no image or parse to no class), made in the
main process, and decoding, done per shard in ``_generate_examples``, possibly in worker
processes. Each shard writes its own record file (atomically) into the build's output folder;
:func:`assemble` merges the records after preparation and checks, for every (generator, split,
source), that found = kept + skipped + excluded, and that kept equals the rows written.
Paths in the report are relative to ``data_dir``; nothing in it is ever used as a path to write to.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import shutil
from collections import Counter
from pathlib import Path, PurePath

from conversion import atomic_files, regular_files
from conversion.contract import tables
from conversion.pixels import decode
from conversion.sources.raw_tree import ORIGINAL

logger = logging.getLogger(__name__)

REPORT_FILE = "build_report.json"
SKIPS_FILE = "skipped_files.csv"
PARTS_DIR = "build_report_parts"
COLUMNS = ("path", "generator", "split", "source", "reason")


class StrictError(RuntimeError):
    """A file was skipped in a build with ``strict=True``."""


class ReportMismatch(RuntimeError):
    """The accounting does not add up: a bug, never a data problem."""


def relative_path(path: str, root: str | os.PathLike) -> str:
    """``path`` relative to ``root``, POSIX style; the bare file name if it is not under ``root``."""
    try:
        return PurePath(path).relative_to(PurePath(os.path.expanduser(root))).as_posix()
    except ValueError:
        return PurePath(path).name


def printable(text: str) -> str:
    """``text`` with control and undecodable characters escaped, for one-line output."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _cell(generator: str, split: str, source: str) -> str:
    return f"{generator}/{split}/{source}"


def _strict_error(path: str, reason: str) -> StrictError:
    return StrictError(f"strict build: {printable(path)} skipped: {printable(reason)}")


class ShardLog:
    """Kept and skipped files of one shard of one split; saved as one record file."""

    def __init__(self, parts_dir: str | None, root: str, split: str, shard: int, strict: bool):
        self.parts_dir, self.root, self.split, self.shard, self.strict = parts_dir, root, split, shard, strict
        self.kept_counts: Counter = Counter()
        self.excluded_counts: Counter = Counter()
        self.skips: list[dict] = []
        self.differences: list[dict] = []
        self.done = 0
        """Items kept or skipped so far: items are handled in order, so the next one is ``items[done]``."""

    def _row(self, item, split: str, reason: str) -> dict:
        values = (relative_path(item.path, self.root), item.generator, split, tables.SOURCES[item.source], reason)
        return dict(zip(COLUMNS, values))

    def skip(self, item, split: str, reason: str) -> None:
        if self.strict:
            raise _strict_error(item.path, reason)
        logger.info(f"skipped {printable(item.path)}: {printable(reason)}")
        self.skips.append(self._row(item, split, reason))
        self.done += 1

    def kept(self, item, difference: str | None = None) -> None:
        self.kept_counts[_cell(item.generator, self.split, tables.SOURCES[item.source])] += 1
        self.done += 1
        if difference:
            self.differences.append(self._row(item, self.split, difference))

    def excluded(self, item) -> None:
        """A readable file left out on purpose (a corrupted copy keeps the first floor(N/10)*10 rows only)."""
        self.excluded_counts[_cell(item.generator, self.split, tables.SOURCES[item.source])] += 1

    def save(self) -> None:
        if self.parts_dir is None:
            return
        record = {"split": self.split, "shard": self.shard, "kept": dict(self.kept_counts),
                  "excluded": dict(self.excluded_counts),
                  "skips": self.skips, "differences": self.differences}
        atomic_files.write_json(Path(self.parts_dir) / f"{self.split}-{self.shard:05d}.json", record, indent=1,
                                sort_keys=True)


def plan_record(plan, root: str, split: str, num_shards: int, strict: bool) -> dict:
    """The plan's part of a split's accounting (main process); strict builds stop at a name skip."""
    if strict and plan.skips:
        first = plan.skips[0]
        more = f" (and {len(plan.skips) - 1} more)" if len(plan.skips) > 1 else ""
        raise _strict_error(first.path, first.reason + more)
    for skip in plan.skips:
        logger.info(f"skipped {printable(skip.path)}: {printable(skip.reason)}")
    return {
        "split": split,
        "num_shards": num_shards,
        "found": {_cell(g, split, s): n for (g, s), n in plan.found.items()},
        "excluded": {_cell(g, split, s): n for (g, s), n in plan.excluded.items()},
        "skips": [dict(zip(COLUMNS, (relative_path(k.path, root), k.generator, k.split, k.source, k.reason)))
                  for k in plan.skips],
        "empty": list(plan.empty),
    }


def describe_images(image_size, check: str = "decode") -> str:
    """The images of a build (or a publish part) with ``image_size`` and ``check``, in a few words."""
    if image_size == ORIGINAL:
        return f"the original files at full resolution (check {check})"
    if image_size == tables.release_pixels()["image_size"]:
        return f"{image_size}x{image_size} PNG (the release's pixels)"
    return f"{image_size}x{image_size} PNG"


def _reason_kind(reason: str) -> str:
    return reason.split(":", 1)[0]


def assemble(parts_dir: str | os.PathLike, plans: list[dict], rows_written: dict[str, int], config: str,
             data_dir: str, check: str = "decode", image_size=64) -> dict:
    """Merge the plan and shard records into the report; raise :class:`ReportMismatch` if it does not add up."""
    parts_dir = Path(parts_dir)
    totals: dict[str, dict] = {}
    skips: list[dict] = []
    differences: list[dict] = []
    empty: list[str] = []
    for plan in plans:
        split = plan["split"]
        empty += plan["empty"]
        for cell, n in plan["found"].items():
            totals[cell] = {"found": n, "kept": 0, "skipped": 0, "excluded": plan["excluded"][cell],
                            "kept_release_dropped": 0}
        skips += plan["skips"]
        for shard in range(plan["num_shards"]):
            path = parts_dir / f"{split}-{shard:05d}.json"
            if not path.is_file():
                raise ReportMismatch(f"no record of {split} shard {shard} in {parts_dir}")
            record = json.loads(path.read_text())
            for cell, n in record["kept"].items():
                totals[cell]["kept"] += n
            for cell, n in record.get("excluded", {}).items():
                totals[cell]["kept"] -= n
                totals[cell]["excluded"] += n
            skips += record["skips"]
            differences += record["differences"]
        kept = sum(totals[c]["kept"] for c in plan["found"])
        if kept != rows_written.get(split, 0):
            raise ReportMismatch(f"{split}: {kept} files kept but {rows_written.get(split, 0)} rows written")
    for row in skips:
        totals[_cell(row["generator"], row["split"], row["source"])]["skipped"] += 1
    for row in differences:
        totals[_cell(row["generator"], row["split"], row["source"])]["kept_release_dropped"] += 1
    for cell, t in totals.items():
        if t["found"] != t["kept"] + t["skipped"] + t["excluded"]:
            raise ReportMismatch(f"{cell}: found {t['found']} != kept {t['kept']} + skipped {t['skipped']} "
                                 f"+ excluded {t['excluded']}")
    skips.sort(key=lambda r: (r["split"], r["generator"], r["source"], r["path"]))
    differences.sort(key=lambda r: (r["split"], r["generator"], r["source"], r["path"]))
    return {"config": config, "data_dir": data_dir, "image_size": image_size, "check": check,
            "totals": dict(sorted(totals.items())),
            "skipped": skips, "differences": differences, "empty": empty}


def write(report: dict, out_dir: str | os.PathLike) -> Path:
    """``build_report.json`` and ``skipped_files.csv`` in ``out_dir``; returns the JSON's path."""
    out_dir = Path(out_dir)
    write_csv(report["skipped"], out_dir / SKIPS_FILE)
    atomic_files.write_json(out_dir / REPORT_FILE, report, indent=1, sort_keys=True)
    return out_dir / REPORT_FILE


def write_csv(rows: list[dict], path: str | os.PathLike) -> None:
    """``rows`` (skips or differences) as CSV of :data:`COLUMNS`, each value :func:`printable`; atomic."""
    with atomic_files.writing(path, newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([printable(row[c]) for c in COLUMNS])


def sums(report: dict) -> dict[str, int]:
    keys = ("found", "kept", "skipped", "excluded", "kept_release_dropped")
    return {k: sum(t[k] for t in report["totals"].values()) for k in keys}


def summary_line(report: dict, where: str | os.PathLike) -> str:
    s = sums(report)
    kinds = Counter(_reason_kind(r["reason"]) for r in report["skipped"])
    detail = f" ({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))})" if kinds else ""
    dropped = f"; {s['kept_release_dropped']} kept that the release dropped" if s["kept_release_dropped"] else ""
    empty = report.get("empty", [])
    empty_text = f"; {len(empty)} empty part(s): {', '.join(e.split(':')[0] for e in empty)}" if empty else ""
    return (f"genimage-cl {report['config']}: {s['found']} files found, {s['kept']} kept, {s['skipped']} skipped"
            f"{detail}, {s['excluded']} excluded by class{dropped}{empty_text}; report: {where}")


def load(path: str | os.PathLike) -> dict:
    """A report file's JSON, read only if it is a regular file (a FIFO named like one never blocks)."""
    with regular_files.open_regular(path) as file:
        return json.loads(file.read().decode("utf-8"))


def find(path: str | os.PathLike) -> list[Path]:
    """Report files at ``path``: the file itself, the one in the folder, or all in the tree below."""
    path = Path(path)
    if path.is_file():
        return [path]
    if (path / REPORT_FILE).is_file():
        return [path / REPORT_FILE]
    return sorted(p for p in path.rglob(REPORT_FILE) if not p.parent.name.endswith(".incomplete"))


def format_report(report: dict) -> str:
    """A plain-text report: totals per generator/split/source, then every skipped or different file."""
    head = ("generator/split/source", "found", "kept", "skipped", "excluded", "kept_release_dropped")
    rows = [(cell, *(str(t[k]) for k in head[1:])) for cell, t in report["totals"].items()]
    rows.append(("total", *(str(sums(report)[k]) for k in head[1:])))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    images = (describe_images(report["image_size"], report.get("check", "decode")) if "image_size" in report
              else f"size not recorded (a report of an older build), files checked by: {report.get('check', 'decode')}")
    lines = [f"config {report['config']} from {printable(report['data_dir'])}", f"images: {images}", ""]
    lines += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
              for r in [head, *rows]]
    for title, key in (("skipped", "skipped"), (f"kept where the release dropped ({decode.RELEASE_DROPPED})",
                                                "differences")):
        lines += ["", f"{title}: {len(report[key])}"]
        lines += [f"  {printable(r['path'])}: {printable(r['reason'])}" for r in report[key]]
    empty = report.get("empty", [])
    if empty:
        lines += ["", f"warning: {len(empty)} empty part(s)"] + [f"  {printable(e)}" for e in empty]
    return "\n".join(lines)


def start(output_dir: str) -> str:
    """The record folder for a build writing into ``output_dir``.

    ``datasets`` writes into ``<cache dir>.incomplete`` (under a file lock) and renames it when done;
    a killed build leaves that folder behind and the next build reuses it. Whatever a killed build
    left there (shards of another ``num_proc``, stale records) is removed first.
    """
    out = Path(output_dir)
    if out.name.endswith(".incomplete"):
        for entry in out.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    parts = out / PARTS_DIR
    parts.mkdir(parents=True, exist_ok=True)
    return str(parts)


def finish(output_dir: str, plans: list[dict], rows_written: dict[str, int], config: str, data_dir: str,
           check: str = "decode", image_size=64) -> dict:
    """Assemble, check and write the report into ``output_dir``; log the one-line summary."""
    parts = Path(output_dir) / PARTS_DIR
    report = assemble(parts, plans, rows_written, config, str(data_dir), check, image_size)
    write(report, output_dir)
    shutil.rmtree(parts)
    final = Path(str(output_dir).removesuffix(".incomplete")) / REPORT_FILE
    line = summary_line(report, final)
    (logger.warning if report["skipped"] or report["differences"] or report["empty"] else logger.info)(line)
    return report


class _RenamedPath(logging.Filter):
    """Rewrites ``old`` into ``new`` in the messages of the logger it is added to."""

    def __init__(self, old: Path, new: Path):
        super().__init__()
        self.old, self.new = str(old), str(new)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.old in message:
            record.msg, record.args = message.replace(self.old, self.new), ()
        return True


@contextlib.contextmanager
def named_at(staged: Path, final: Path):
    """Within it, the build's summary line names the report ``final``, where the caller moves it, not
    ``staged``, where the build writes it (a staging or cache folder that is deleted afterwards)."""
    renamed = _RenamedPath(staged, final)
    logger.addFilter(renamed)
    try:
        yield
    finally:
        logger.removeFilter(renamed)
