"""Check a Parquet copy (a publish output folder) before uploading or after downloading it.

Reads every shard under FOLDER/data in full with Parquet page checksum verification and names each
damaged shard; compares the rows of every config and split with the card's (README.md) dataset_info.
Exits with status 1 on any problem. Shards are written with page checksums since this check exists;
pages written without one cannot be checked (only their decoding can fail).

Every shard's sha256 is compared with the one publish recorded in its part's manifest
(FOLDER/.publish/parts/), so damage anywhere in a file, its footer included, is found. With
--repo-id it is also compared with the LFS sha256 the Hub holds for the same path (read-only; a
token is needed for a private repository): this checks an upload, or a download without publish's
state. A shard on one side only is a problem too.

The card's data_files patterns are resolved by datasets itself, so each split counts exactly the
files load_dataset reads, from FOLDER or from the Hub repository holding it (`*` does not cross
`/`: data/sdv14/task0/train-* does not select data/sdv14/task0/train-x/a.parquet). Also problems:
a shard that no config selects (load_dataset never reads it: a stray file to remove or declare),
a selected file that is not a regular Parquet shard under data/, a file selected twice in a split,
and a pattern without wildcards that names no file.

Examples:
  python -m conversion verify-copy genimage-cl
  python -m conversion verify-copy genimage-cl --repo-id me/genimage-cl
"""

from __future__ import annotations

from conversion.commands import options

NAME = "verify-copy"
HELP = "check a Parquet copy's shard digests, page checksums and row counts against its card"


def add_arguments(parser) -> None:
    parser.add_argument("path", type=options.local_path, metavar="FOLDER",
                        help="the copy: the folder publish --out wrote")
    parser.add_argument("--repo-id", type=options.repo_id, default=None, metavar="USER/NAME",
                        help="also compare every shard's sha256 with the LFS sha256 of this Hub dataset repository")
    parser.add_argument("--revision", default=None, help="with --repo-id: the branch, tag or commit (default main)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from conversion.hub_copy import shard_digests, verify_copy
    from conversion.hub_copy.parts import DATA

    remote = None
    if args.repo_id:
        from conversion.hub_copy import upload  # its client (imports publish: only when the Hub is asked)

        if upload.constants.HF_HUB_OFFLINE:
            raise ValueError("--repo-id reads the Hub repository's file list, but HF_HUB_OFFLINE is set: unset it")
        api = upload.HfApi(token=upload.get_token() or False)
        remote = shard_digests.hub_digests(api, args.repo_id, DATA, args.revision)
    elif args.revision:
        raise ValueError("--revision needs --repo-id")
    name = f"{args.repo_id}@{args.revision}" if args.revision else args.repo_id
    result = verify_copy.verify(args.path, progress=not args.no_progress, remote=remote, remote_name=name)
    print(verify_copy.format_check(result))
    return 1 if result.problems else 0
