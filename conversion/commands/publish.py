"""Build the Hub copy of GenImage-CL (Parquet shards + README.md) and optionally upload it.

DATA_DIR is a raw GenImage tree or the CL tensor release (detected). Each generator-task present is
built once into OUT/data/<generator>/task<k>/; README.md declares every config whose tasks are
all present (each generator, each generator-task, disjoint, disjoint-reversed) as a view over those
files. Re-running skips finished parts. --repo-id names the repository in the card's snippets, and
the copy is uploaded to it with huggingface_hub (token from `hf auth login` or HF_TOKEN) in one
commit that makes the repository equal to it: the copy's files (README.md, data/, figures/,
reports/) are added, remote files in those folders that the copy lacks are deleted, nothing else is
touched or sent (other files in OUT stay local). --dry-run prints that commit instead (deletions
only if the repository can be listed without writing): with --repo-id and --dry-run the card names
the future repository and nothing is uploaded.

Images are the release's 64x64 pixels; from a raw tree, --image-size builds every part at another
size or as the original files (full resolution; --check says how each file is checked), and the card
says which. A part built before with the same source, shard size, image size and check is kept
(--overwrite rebuilds it); one built otherwise is rebuilt, so a card never mixes sizes.

One publish at a time per OUT: a second one fails at once naming the holder, or waits with
--wait-lock. README.md is written last, only once every part it declares is complete.

On a cluster, a job array builds the parts in parallel into the same OUT (--job-index N builds
the N-th part present, --part a named part or config; no card, no upload); a final plain run with the
same --image-size and --check then finds every part done, writes the card and uploads. --list-jobs
prints the jobs, "INDEX GEN-taskK" a line (slurm/publish-array.sbatch runs one per array task).

Examples:
  python -m conversion publish --data-dir /data/processedSingleGenerators --out genimage-cl
  python -m conversion publish --data-dir /data/GenImage --out genimage-cl --repo-id me/genimage-cl --dry-run
  python -m conversion publish --data-dir /data/GenImage --list-jobs
  python -m conversion publish --data-dir /data/GenImage --out genimage-cl --job-index $SLURM_ARRAY_TASK_ID
  python -m conversion publish --data-dir /data/GenImage --out genimage-cl-full --image-size original --check structure
"""

from __future__ import annotations

from conversion.commands import options
from conversion.hub_copy import parts
from conversion.pixels import corruption_recipe, decode

NAME = "publish"
HELP = "build the Parquet Hub copy with its card and upload it (or --dry-run)"


def add_arguments(parser) -> None:
    parser.add_argument("--data-dir", type=options.local_path, required=True,
                        help="raw GenImage tree or CL tensor release")
    parser.add_argument("--out", type=options.local_path, default=None,
                        help="folder to write (the dataset repository's content); needed by all but --list-jobs")
    parser.add_argument("--repo-id", type=options.repo_id, default=None, metavar="USER/NAME",
                        help="the Hub dataset repository: the card's snippets name it (without it they say "
                             "<user>/genimage-cl), and the copy is uploaded to it unless --dry-run")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the upload plan; upload nothing (with --repo-id: write the card naming that "
                             "repository, e.g. before it exists)")
    parser.add_argument("--private", action="store_true", help="create the repository private")
    parser.add_argument("--wait-lock", action="store_true",
                        help="if another publish is writing OUT, wait for it instead of failing")
    parser.add_argument("--max-shard-size", default=parts.MAX_SHARD_SIZE,
                        help=f"largest Parquet shard, as push_to_hub counts it (default {parts.MAX_SHARD_SIZE})")
    parser.add_argument("--num-proc", type=options.positive_int, default=None, help="processes per build")
    one = parser.add_mutually_exclusive_group()
    one.add_argument("--part", action=options.KeyList, metavar="CONFIG[,CONFIG...]", type=options.config_names,
                     help="build only these parts, e.g. sdv14-task3,sdv14-task4, or every part of a config (sdv14, "
                          "disjoint); no card, no upload")
    one.add_argument("--job-index", type=int, default=None,
                     help="build only the N-th part present (0-based, for job arrays); no card, no upload")
    one.add_argument("--list-jobs", action="store_true",
                     help="print the parts --job-index numbers, 'INDEX GEN-taskK' a line; write nothing")
    parser.add_argument("--corruptions", type=options.corruption_names, action=options.KeyList, default=(),
                        metavar="NAME[,NAME...]",
                        help="also make the test split's corrupted copies with the release's recipe for every part "
                             f"that lacks them ({', '.join(corruption_recipe.CORRUPTIONS)}, or 'all'; needs "
                             f"scikit-image: {corruption_recipe.EXTRA}); the release's own X_<corruption>.pt are "
                             "published without it")
    parser.add_argument("--image-size", type=options.image_size, default=64,
                        help="64 (default, the release's pixels), another size, or 'original' (the source files' "
                             "bytes, full resolution); other than 64 from a raw tree only")
    parser.add_argument("--check", choices=decode.CHECKS, default="decode",
                        help="with --image-size original: decode every file in full (default), check its "
                             "structure only (PNG chunks and CRCs, JPEG markers; much faster), or none")
    parser.add_argument("--overwrite", action="store_true",
                        help="rebuild the parts built before instead of keeping them (give it to the jobs of an "
                             "array, not to the final run)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars (neither datasets' nor huggingface_hub's upload bars)")
    parser.add_argument("--no-yaml-aliases", action="store_true",
                        help="write every config's features in full in README.md (as push_to_hub does; over 1 MB of "
                             "YAML, seconds to parse per load) instead of once with YAML aliases")


def run(args) -> int:
    from conversion import folder_lock, progress
    from conversion.contract import configs
    from conversion.hub_copy import card, publish, upload
    from conversion.sources import kinds

    if args.list_jobs:  # the enumeration build_parts_only takes --job-index from
        for index, (generator, task) in enumerate(kinds.open_source(args.data_dir).parts()):
            print(index, configs.task_config_name(generator, task))
        return 0
    if args.out is None:
        raise ValueError("publish needs --out OUT (all but --list-jobs do)")
    progress.configure(not args.no_progress)
    publish.check_paths(args.data_dir, args.out)  # before anything is written, the lock included
    source = kinds.open_source(args.data_dir)
    publish.check_options(source, args.image_size, args.check, args.corruptions)
    images = {"image_size": args.image_size, "check": args.check, "overwrite": args.overwrite}
    if args.part or args.job_index is not None:
        if args.repo_id:
            raise ValueError("--part/--job-index build parts only; upload with a final run without them")
        parts = publish.build_parts_only(source, args.out, args.part, args.job_index, args.max_shard_size,
                                         args.num_proc, corruption_names=tuple(args.corruptions),
                                         wait_lock=args.wait_lock,
                                         **images)
        print(f"built {len(parts)} part(s) into {args.out}; run publish without --part/--job-index to write the card")
        return 0
    api = None
    if args.repo_id and not args.dry_run:
        api = upload.connect(args.repo_id)
    with folder_lock.exclusive(args.out, wait=args.wait_lock):  # held until the upload has read the files
        print(f"building {args.out} from {args.data_dir}")
        mirror = publish.build_mirror(source, args.out, args.max_shard_size, args.num_proc, args.repo_id,
                                      yaml_aliases=not args.no_yaml_aliases, corruption_names=tuple(args.corruptions),
                                      **images)
        print()
        print(publish.summary(mirror))
        for note in card.publisher_notes(args.repo_id):
            print(note)
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
