"""Check the parts that build jobs wrote into one output folder and list them.

Every part's shards must be complete (NNNNN-of-NNNNN, one run) and built at one image size; with
--generators, every job of those generators must be present. Exits non-zero otherwise (also for a
missing or empty folder), naming what to re-run. The publish
step can write the card from the same listing (conversion.hub_copy.jobs.collect_parts).

Example:
  python -m conversion assemble --out genimage-cl --generators adm,biggan,glide,midjourney,sdv14,vqdm
"""

from __future__ import annotations

from conversion.hub_copy import jobs
from conversion.commands import options

NAME = "assemble"
HELP = "check and list the parts written by build jobs (complete shard sets, no job missing)"


def add_arguments(parser) -> None:
    parser.add_argument("--out", type=options.local_path, required=True, help="output folder of the build jobs")
    parser.add_argument("--generators", type=options.generator_keys, action=options.KeyList, metavar=options.KEYS,
                        help="comma-separated keys whose every job must be present")


def run(args) -> int:
    if not args.out.is_dir():
        raise FileNotFoundError(f"--out {args.out} is {'a file' if args.out.exists() else 'missing'}, "
                                f"not the output folder of build jobs")
    parts = jobs.collect_parts(args.out)
    if not parts:
        raise FileNotFoundError(f"--out {args.out} holds no parts ({jobs.DATA}/<generator>/task<k>/<split>-*.parquet): "
                                f"run the build jobs into it first")
    sizes = {}
    for part in parts:
        sizes.setdefault(jobs.image_size_of(args.out, jobs.Job(part.generator, part.task, part.split)), []).append(part)
    if len(sizes) > 1:
        listed = "; ".join(f"{size or 'unknown'}: {', '.join(f'{p.config} {p.split}' for p in found[:3])}"
                           + (" ..." if len(found) > 3 else "") for size, found in sizes.items())
        raise ValueError(f"parts in {args.out} were built at different image sizes ({listed}); "
                         f"rebuild them at one size")
    print(f"{'part':<22}{'split':<7}{'shards':>7}{'rows':>10}{'MB':>10}")
    for part in parts:
        print(f"{part.config:<22}{part.split:<7}{len(part.files):>7}{part.num_rows:>10}{part.num_bytes / 1e6:>10.1f}")
    print(f"{len(parts)} parts, {sum(p.num_rows for p in parts)} rows, {sum(p.num_bytes for p in parts) / 1e6:.1f} MB")
    leftovers = sorted((args.out / jobs.STAGING).glob("*")) if (args.out / jobs.STAGING).is_dir() else []
    if leftovers:
        print(f"note: {len(leftovers)} staging folder(s) of unfinished or running jobs in {args.out / jobs.STAGING}")
    if args.generators:
        missing = jobs.missing_jobs(args.out, jobs.all_jobs(args.generators))
        if missing:
            every = jobs.all_jobs(args.generators)
            listed = ", ".join(f"{every.index(job)} ({job})" for job in missing)
            print(f"missing {len(missing)} job(s): {listed}")
            return 1
    return 0
