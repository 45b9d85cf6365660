"""Check the parts that build jobs wrote into one output folder and list them.

Every part's shards must be complete (NNNNN-of-NNNNN, one run); with --generators, every job of
those generators must be present. Exits non-zero otherwise, naming what to re-run. The publish
step can write the card from the same listing (conversion.jobs.collect_parts).

Example:
  python -m conversion assemble --out genimage-cl --generators adm,biggan,glide,midjourney,sdv14,vqdm
"""

from __future__ import annotations

from pathlib import Path

from conversion import jobs
from conversion.commands.build import generator_list

NAME = "assemble"
HELP = "check and list the parts written by build jobs (complete shard sets, no job missing)"


def add_arguments(parser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="output folder of the build jobs")
    parser.add_argument("--generators", help="comma-separated keys whose every job must be present")


def run(args) -> int:
    parts = jobs.collect_parts(args.out)
    print(f"{'part':<22}{'split':<7}{'shards':>7}{'rows':>10}{'MB':>10}")
    for part in parts:
        print(f"{part.config:<22}{part.split:<7}{len(part.files):>7}{part.num_rows:>10}{part.num_bytes / 1e6:>10.1f}")
    print(f"{len(parts)} parts, {sum(p.num_rows for p in parts)} rows, {sum(p.num_bytes for p in parts) / 1e6:.1f} MB")
    leftovers = sorted((args.out / jobs.STAGING).glob("*")) if (args.out / jobs.STAGING).is_dir() else []
    if leftovers:
        print(f"note: {len(leftovers)} staging folder(s) of unfinished or running jobs in {args.out / jobs.STAGING}")
    if args.generators:
        missing = jobs.missing_jobs(args.out, jobs.all_jobs(generator_list(args.generators)))
        if missing:
            every = jobs.all_jobs(generator_list(args.generators))
            listed = ", ".join(f"{every.index(job)} ({job})" for job in missing)
            print(f"missing {len(missing)} job(s): {listed}")
            return 1
    return 0
