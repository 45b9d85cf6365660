"""Build parts of the Parquet copy, one job per (generator, task, split), into one output folder.

Jobs are independent: run them one after another, or as a cluster job array (one index each);
they write data/<generator>/task<k>/<split>-NNNNN-of-NNNNN.parquet. A job whose split is already
there is skipped with a line saying so (--overwrite rebuilds it): a re-run array does only what is left.
Then check the whole with `python -m conversion assemble --out OUT`.

Examples:
  python -m conversion build --data-dir /data/GenImage --out genimage-cl --config sdv14-task3 --split train
  python -m conversion build --data-dir /data/GenImage --out genimage-cl --config sdv14
  python -m conversion build --generators adm,sdv14 --list-jobs
  python -m conversion build --data-dir /data/GenImage --out genimage-cl --generators adm,sdv14 --job-index $SLURM_ARRAY_TASK_ID
"""

from __future__ import annotations

from conversion import local_paths, progress
from conversion.hub_copy import jobs
from conversion.pixels import decode
from conversion.commands import options

NAME = "build"
HELP = "build parts of the Parquet copy (one job per generator, task and split; job arrays)"


def add_arguments(parser) -> None:
    parser.add_argument("--data-dir", type=options.local_path, help="the unzipped GenImage root")
    parser.add_argument("--out", type=options.local_path, help="output folder shared by all jobs")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--config", metavar="CONFIG", type=options.config_name,
                       help="build every job of this config (e.g. sdv14-task3, sdv14)")
    which.add_argument("--job-index", type=int, help="build job number I of --generators' job list (0-based)")
    parser.add_argument("--split", choices=jobs.SPLITS, help="with --config: only this split")
    parser.add_argument("--generators", type=options.generator_keys, action=options.KeyList, metavar=options.KEYS,
                        help="comma-separated generator keys for --job-index/--list-jobs (default: all 8)")
    parser.add_argument("--list-jobs", action="store_true", help="print the numbered job list and exit")
    parser.add_argument("--image-size", type=options.image_size, default=64,
                        help="64 (default, the release), another size, or 'original'")
    parser.add_argument("--check", choices=decode.CHECKS, default="decode",
                        help="with --image-size original: decode every file in full (default), check its "
                             "structure only (PNG chunks and CRCs, JPEG markers; much faster), or none")
    parser.add_argument("--num-proc", type=options.positive_int, default=None, help="processes per job")
    parser.add_argument("--overwrite", action="store_true", help="rebuild jobs whose split is already in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--max-shard-size", default=jobs.MAX_SHARD_SIZE, help="Parquet shard size (default 500MB)")


def selected_jobs(args) -> list[jobs.Job]:
    if args.config is not None:
        return jobs.jobs_for([args.config], (args.split,) if args.split else jobs.SPLITS)
    every = jobs.all_jobs(args.generators)
    if args.job_index is None:
        raise ValueError("give --config CONFIG or --job-index I (see --list-jobs)")
    if not 0 <= args.job_index < len(every):
        raise ValueError(f"--job-index must be in 0..{len(every) - 1} for these generators, got {args.job_index}")
    return [every[args.job_index]]


def run(args) -> int:
    if args.list_jobs:
        for index, job in enumerate(jobs.all_jobs(args.generators)):
            print(f"{index}\t{job.config}\t{job.split}")
        return 0
    if args.data_dir is None or args.out is None:
        raise ValueError("--data-dir and --out are required to build")
    selected = selected_jobs(args)
    local_paths.output_folder(args.out, "--out")
    local_paths.refuse_nested(args.data_dir, "--data-dir", args.out, "--out")
    progress.configure(not args.no_progress)
    for number, job in enumerate(selected, 1):
        step = f"[{number}/{len(selected)}] {job}"
        if jobs.is_built(args.out, job) and not args.overwrite:
            print(f"{step}: already in {job.folder(args.out)}, skipped (--overwrite rebuilds it)")
            continue
        print(f"{step}: building")
        placed = jobs.run_job(job, args.data_dir, args.out, args.image_size, args.num_proc, args.max_shard_size,
                              check=args.check)
        print(f"{step}: {len(placed)} shard(s) in {job.folder(args.out)}; "
              f"report in {jobs.report_folder(args.out, job)}")
    return 0
