"""Build the Hub copy of GenImage-CL (Parquet shards + README.md) and optionally upload it.

DIR is a raw GenImage tree or the CL tensor release (detected). Each generator-task present is
built once into FOLDER/data/<generator>/task<k>/; README.md declares every config whose tasks are
all present (each generator, each generator-task, disjoint) as a view over those files. Re-running
skips finished parts. With --repo-id the copy is uploaded with huggingface_hub (token from
`hf auth login` or HF_TOKEN) in one commit that makes the repository equal to it: the copy's files
(README.md, data/, figures/, reports/) are added, remote files in those folders that the copy lacks
are deleted, nothing else is touched or sent (other files in FOLDER stay local). --dry-run prints
that commit instead (deletions only if the repository can be listed without writing).

One publish at a time per FOLDER: a second one fails at once naming the holder, or waits with
--wait-lock. README.md is written last, only once every part it declares is complete.

On a cluster, a job array builds the parts in parallel into the same FOLDER (--job-index N builds
the N-th part present, --part the parts named; no card, no upload); a final plain run then finds
every part done, writes the card and uploads.

Examples:
  python -m conversion publish --data-dir /data/processedSingleGenerators --out genimage-cl
  python -m conversion publish --data-dir /data/GenImage --out genimage-cl --repo-id me/genimage-cl --dry-run
  python -m conversion publish --data-dir /data/GenImage --out genimage-cl --job-index $SLURM_ARRAY_TASK_ID
"""

from __future__ import annotations

from conversion.hub_copy import jobs
from conversion.pixels import corruption_recipe
from conversion.commands import options

NAME = "publish"
HELP = "build the Parquet Hub copy with its card and upload it (or --dry-run)"


def add_arguments(parser) -> None:
    parser.add_argument("--data-dir", type=options.local_path, required=True, help="raw GenImage tree or CL tensor release")
    parser.add_argument("--out", type=options.local_path, required=True, help="folder to write (the dataset repository's content)")
    parser.add_argument("--repo-id", type=options.repo_id, default=None, metavar="USER/NAME",
                        help="upload to this Hub dataset repository")
    parser.add_argument("--dry-run", action="store_true", help="print the upload plan; upload nothing")
    parser.add_argument("--private", action="store_true", help="create the repository private")
    parser.add_argument("--wait-lock", action="store_true",
                        help="if another publish is writing FOLDER, wait for it instead of failing")
    parser.add_argument("--max-shard-size", default=jobs.MAX_SHARD_SIZE,
                        help=f"largest Parquet shard, as push_to_hub counts it (default {jobs.MAX_SHARD_SIZE})")
    parser.add_argument("--num-proc", type=options.positive_int, default=None, help="processes per build")
    one = parser.add_mutually_exclusive_group()
    one.add_argument("--part", action=options.KeyList, metavar="GEN-taskK[,GEN-taskK...]", type=options.config_names,
                     help="build only these parts, e.g. sdv14-task3,sdv14-task4; no card, no upload")
    one.add_argument("--job-index", type=int, default=None,
                     help="build only the N-th part present (0-based, for job arrays); no card, no upload")
    parser.add_argument("--corruptions", type=options.corruption_names, action=options.KeyList, default=(),
                        metavar="NAME[,NAME...]",
                        help="also make the test split's corrupted copies with the release's recipe for every part "
                             f"that lacks them ({', '.join(corruption_recipe.CORRUPTIONS)}, or 'all'; needs scikit-image: "
                             f"{corruption_recipe.EXTRA}); the release's own X_<corruption>.pt are published without it")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars (neither datasets' nor huggingface_hub's upload bars)")
    parser.add_argument("--no-yaml-aliases", action="store_true",
                        help="write every config's features in full in README.md (as push_to_hub does; over 1 MB of "
                             "YAML, seconds to parse per load) instead of once with YAML aliases")


def run(args) -> int:
    from conversion import folder_lock, progress
    from conversion.hub_copy import publish, upload
    from conversion.sources import kinds

    progress.configure(not args.no_progress)
    publish.check_paths(args.data_dir, args.out)  # before anything is written, the lock included
    source = kinds.open_source(args.data_dir)
    if args.part or args.job_index is not None:
        if args.repo_id:
            raise ValueError("--part/--job-index build parts only; upload with a final run without them")
        parts = publish.build_parts_only(source, args.out, args.part, args.job_index, args.max_shard_size,
                                         args.num_proc, corruption_names=tuple(args.corruptions), wait_lock=args.wait_lock)
        print(f"built {len(parts)} part(s) into {args.out}; run publish without --part/--job-index to write the card")
        return 0
    api = None
    if args.repo_id and not args.dry_run:
        api = upload.connect(args.repo_id)
    with folder_lock.exclusive(args.out, wait=args.wait_lock):  # held until the upload has read the files
        print(f"building {args.out} from {args.data_dir}")
        mirror = publish.build_mirror(source, args.out, args.max_shard_size, args.num_proc, args.repo_id,
                                      yaml_aliases=not args.no_yaml_aliases, corruption_names=tuple(args.corruptions))
        print()
        print(publish.summary(mirror))
        if args.dry_run:
            remote = upload.list_remote_read_only(args.repo_id)
            print()
            print(upload.describe(upload.plan_commit(mirror, remote), args.repo_id, mirror.out, remote))
            print("dry run: nothing uploaded")
        elif api is not None:
            info, commit = upload.upload(mirror, args.repo_id, api, private=args.private or None)
            print(f"uploaded to https://huggingface.co/datasets/{args.repo_id}: {len(commit.additions)} files added, "
                  f"{len(commit.deletions)} deleted (commit {getattr(info, 'oid', '')})")
    return 0
