"""Conversion as independent jobs, one per (generator, task, split), writing into one Parquet output.

A cluster job array runs one job per index; every job builds its part with the datasets builder
straight to Parquet (``download_and_prepare(file_format="parquet")``, so ``num_proc`` and shard
sizes are datasets' own) in a private staging folder inside the output, then moves the shards to
the Hub copy's layout ``data/<generator>/task<k>/<split>-NNNNN-of-NNNNN.parquet`` (its build report
to ``reports/<generator>/task<k>/<split>/``), rewriting each with Parquet page checksums on the way
(:mod:`conversion.hub_copy.parquet_pages`). Only complete
shard sets are moved in; a job that fails or is interrupted removes its staging folder (only a
killed one leaves it, which ``assemble`` notes) and is simply run again.
:func:`collect_parts` checks and lists what the jobs wrote, for the step that writes the card.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from conversion import folder_lock, local_paths, regular_files
from conversion.builder import build_report
from conversion.contract import configs, tables
from conversion.hub_copy import owned_files
from conversion.hub_copy.parts import DATA, MAX_SHARD_SIZE, SHARD_NAME, SPLITS, shard_name

REPORTS = "reports"
JOB_FILE = "job.json"
"""Beside a job's build report: the image size it was built with (parts of one output must agree)."""
STAGING = ".staging"
PART_FOLDER = re.compile(r"^task(?P<task>[0-9]+)$")


class IncompletePart(ValueError):
    """A part's shard set has gaps or mixes two runs: re-run its job."""


@dataclass(frozen=True, order=True)
class Job:
    generator: str
    task: int
    split: str

    @property
    def config(self) -> str:
        return configs.task_config_name(self.generator, self.task)

    def folder(self, out: str | os.PathLike) -> Path:
        return part_folder(out, self.generator, self.task)

    def __str__(self) -> str:
        return f"{self.config} {self.split}"


def part_folder(out: str | os.PathLike, generator: str, task: int) -> Path:
    return Path(out) / DATA / generator / f"task{task}"


def jobs_for(config_names: list[str], splits: tuple[str, ...] = SPLITS) -> list[Job]:
    """The jobs that together build ``config_names`` (each (generator, task, split) once, sorted)."""
    parts = configs.config_parts()
    return sorted({Job(g, t, s) for name in config_names for g, t in parts[configs.resolve(name)] for s in splits})


def all_jobs(generators: list[str] | None = None) -> list[Job]:
    """Every job of the given generators (default: all eight), in a fixed order for job-array indices."""
    keys = list(tables.generators()) if generators is None else generators
    return jobs_for(keys)


def run_job(
    job: Job,
    data_dir: str | os.PathLike,
    out: str | os.PathLike,
    image_size=64,
    num_proc: int | None = None,
    max_shard_size: str | int = MAX_SHARD_SIZE,
    row_group_size: int | None = None,
    check: str = "decode",
) -> list[Path]:
    """Build one part's split into ``out``'s layout; returns the shard paths now in place.

    Shards close at the first row group past ``max_shard_size``; row groups hold ``row_group_size``
    rows (default: datasets' choice for image datasets, 100), which also bounds the memory of
    writers and streaming readers.
    """
    local_paths.refuse_nested(Path(data_dir), "--data-dir", Path(out), "--out")
    for state in (folder_lock.STATE_DIR, STAGING):
        local_paths.state_folder(Path(out) / state)
    records(out).refuse_foreign([job.folder(out).relative_to(out).as_posix(),
                                 report_folder(out, job).relative_to(out).as_posix()])
    staging = Path(out) / STAGING / f"{job.config}-{job.split}-{uuid.uuid4().hex[:8]}"
    try:
        return _build_in(staging, job, data_dir, out, image_size, num_proc, max_shard_size, row_group_size, check)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            (Path(out) / STAGING).rmdir()  # only once no other job stages there


def _build_in(staging: Path, job: Job, data_dir, out, image_size, num_proc, max_shard_size, row_group_size,
              check) -> list[Path]:
    """:func:`run_job`'s work, with ``staging`` as the builder's cache and output folder."""
    from genimage_cl import GenImageCL

    built = staging / "parquet"
    reports = report_folder(out, job)
    builder = GenImageCL(
        config_name=job.config,
        data_dir=str(data_dir),
        image_size=image_size,
        splits=(job.split,),
        cache_dir=str(staging / "cache"),
        writer_batch_size=row_group_size,
        check=check,
    )
    with build_report.named_at(built / build_report.REPORT_FILE, reports / build_report.REPORT_FILE):
        builder.download_and_prepare(
            output_dir=str(built), file_format="parquet", max_shard_size=max_shard_size, num_proc=num_proc
        )
    # imported here: it loads datasets, and the CLI's help imports this module
    from conversion.hub_copy import parquet_pages

    shards = sorted(built.glob(f"*-{job.split}*.parquet"))
    for shard in shards:  # datasets' builder takes no Parquet writer options
        parquet_pages.add_checksums(shard)
    placed = _move_shards(shards, job, Path(out))
    reports.mkdir(parents=True, exist_ok=True)
    names = [name for name in (build_report.REPORT_FILE, build_report.SKIPS_FILE) if (built / name).is_file()]
    records(out).claim(job_group(job), [(reports / name).relative_to(out).as_posix() for name in [*names, JOB_FILE]])
    for name in names:
        os.replace(built / name, reports / name)
    (reports / JOB_FILE).write_text(json.dumps({"image_size": image_size}))
    return placed


def job_group(job: Job) -> str:
    """The record of the files ``job`` writes (:mod:`conversion.hub_copy.owned_files`)."""
    return f"{job.config}-{job.split}"


def records(out: str | os.PathLike) -> owned_files.Records:
    """What build jobs wrote into ``out``. An output written before files were recorded adopts what
    it shows was ours: shards named as jobs name them, and the jobs' report files."""
    out = Path(out)
    found = owned_files.Records(out, folder_lock.STATE_DIR)
    if not found.exists():
        shards = [p for p in out.glob(f"{DATA}/*/task*/*.parquet") if SHARD_NAME.match(p.name)]
        reports = [p for name in (build_report.REPORT_FILE, build_report.SKIPS_FILE, JOB_FILE)
                   for p in out.glob(f"{REPORTS}/*/task*/*/{name}")]
        if shards or reports:
            found.claim("adopted", [p.relative_to(out).as_posix() for p in shards + reports])
    return found


def report_folder(out: str | os.PathLike, job: Job) -> Path:
    """Where a job leaves its build report (skipped files and totals): ``reports/<gen>/task<k>/<split>``."""
    return Path(out) / REPORTS / job.generator / f"task{job.task}" / job.split


def image_size_of(out: str | os.PathLike, job: Job):
    """The image size ``job``'s part was built with, or None if its output does not say."""
    try:
        with regular_files.open_regular(report_folder(out, job) / JOB_FILE) as file:
            return json.loads(file.read())["image_size"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_built(out: str | os.PathLike, job: Job) -> bool:
    """Whether ``job``'s split already has a complete shard set in ``out``."""
    folder = job.folder(out)
    names = [SHARD_NAME.match(p.name) for p in folder.glob(f"{job.split}-*-of-*.parquet")] if folder.is_dir() else []
    return _complete_set([(int(m["index"]), int(m["total"])) for m in names if m])


def _complete_set(shards: list[tuple[int, int]]) -> bool:
    """(index, total) of a split's shard files: indices 0..total-1, one total (one run)."""
    totals = {total for _, total in shards}
    return len(totals) == 1 and sorted(index for index, _ in shards) == list(range(totals.pop()))


def _move_shards(shards: list[Path], job: Job, out: Path) -> list[Path]:
    """Rename the builder's shards into the job's folder (recorded first), then drop the shards of an
    earlier run of the same job (only those a run recorded)."""
    if not shards:
        raise RuntimeError(f"the build of {job} wrote no Parquet file")
    folder = job.folder(out)
    folder.mkdir(parents=True, exist_ok=True)
    targets = [folder / shard_name(job.split, index, len(shards)) for index in range(len(shards))]
    owned = records(out)
    owned.claim(job_group(job), [t.relative_to(out).as_posix() for t in targets])
    for shard, target in zip(shards, targets):
        os.replace(shard, target)
    old = [p.relative_to(out).as_posix() for p in folder.glob(f"{job.split}-*-of-*.parquet") if p not in targets]
    for group in owned.groups():
        owned.delete(group, old)
    return targets


@dataclass(frozen=True)
class Part:
    """One (generator, task, split) as written by its job."""

    generator: str
    task: int
    split: str
    files: tuple[Path, ...]
    num_rows: int
    num_bytes: int

    @property
    def config(self) -> str:
        return configs.task_config_name(self.generator, self.task)

    def data_files(self) -> str:
        """The glob a card's ``data_files`` entry uses for this part, relative to the output folder."""
        return f"{DATA}/{self.generator}/task{self.task}/{self.split}-*.parquet"


def _folders(folder: Path) -> list[Path]:
    """The sub-folders of ``folder``, sorted; :class:`IncompletePart` naming a link among its entries
    (never followed: it could lead out of the output folder)."""
    entries = sorted(folder.iterdir())
    link = next((p for p in entries if p.is_symlink()), None)
    if link is not None:
        raise IncompletePart(f"{link}: a link to {os.readlink(link)}, where build jobs write folders and shards; "
                             f"not followed")
    return [p for p in entries if p.is_dir()]


def _shard_files(task_dir: Path) -> dict[str, list[tuple[int, int, Path]]]:
    """{split: [(index, total, path)]} of a part folder; :class:`IncompletePart` for anything but shards."""
    shards: dict[str, list[tuple[int, int, Path]]] = {}
    for path in sorted(task_dir.iterdir()):
        kind = regular_files.irregular(path.lstat().st_mode)
        if kind is not None:
            raise IncompletePart(f"{path}: {kind}, not a regular file; not read")
        name = SHARD_NAME.match(path.name)
        if not name or name["split"] not in SPLITS:
            raise IncompletePart(f"{path}: not a <split>-NNNNN-of-NNNNN.parquet shard")
        shards.setdefault(name["split"], []).append((int(name["index"]), int(name["total"]), path))
    return shards


def collect_parts(out: str | os.PathLike) -> list[Part]:
    """Every part under ``out/data``, checked complete (shards 0..N-1 of one run), sorted.

    Raises :class:`IncompletePart` naming the folder when a shard set has gaps or mixes runs, and naming
    the entry for a link, FIFO or anything else that is not a folder or a regular shard file (none is
    opened or followed).
    """
    # imported here: it loads datasets, and the CLI's help imports this module
    from conversion.hub_copy import parquet_pages

    root = Path(out) / DATA
    if root.is_symlink():
        raise IncompletePart(f"{root}: a link to {os.readlink(root)}, not the output's own folder; not followed")
    found: list[Part] = []
    generators = tables.generators()
    for generator_dir in _folders(root) if root.is_dir() else []:
        if generator_dir.name not in generators:
            raise IncompletePart(f"{generator_dir}: not a generator key ({', '.join(generators)})")
        for task_dir in _folders(generator_dir):
            match = PART_FOLDER.match(task_dir.name)
            if not match:
                raise IncompletePart(f"{task_dir}: expected task<k> folders")
            shards = _shard_files(task_dir)
            for split in sorted(shards):
                entries = sorted(shards[split])
                if not _complete_set([(index, total) for index, total, _ in entries]):
                    raise IncompletePart(f"{task_dir}: {split} shards are incomplete or from two runs; re-run its job")
                files = tuple(path for _, _, path in entries)
                rows = sum(parquet_pages.read_metadata(path).num_rows for path in files)
                size = sum(path.stat().st_size for path in files)
                found.append(Part(generator_dir.name, int(match["task"]), split, files, rows, size))
    return found


def missing_jobs(out: str | os.PathLike, expected: list[Job]) -> list[Job]:
    """The expected jobs whose part is not (completely) in ``out``."""
    done = {Job(p.generator, p.task, p.split) for p in collect_parts(out)}
    return [job for job in expected if job not in done]
