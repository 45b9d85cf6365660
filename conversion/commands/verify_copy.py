"""Check a Parquet copy (a publish output folder) before uploading or after downloading it.

Reads every shard under FOLDER/data in full with Parquet page checksum verification and names each
damaged shard; compares the rows of every config and split with the card's (README.md) dataset_info.
Exits with status 1 on any problem. Shards are written with page checksums since this check exists;
pages written without one cannot be checked (only their decoding can fail).

The card's data_files patterns are resolved by datasets itself, so each split counts exactly the
files load_dataset reads, from FOLDER or from the Hub repository holding it (`*` does not cross
`/`: data/sdv14/task0/train-* does not select data/sdv14/task0/train-x/a.parquet). Also problems:
a shard that no config selects (load_dataset never reads it: a stray file to remove or declare),
a selected file that is not a regular Parquet shard under data/, a file selected twice in a split,
and a pattern without wildcards that names no file.

Example:
  python -m conversion verify-copy genimage-cl
"""

from __future__ import annotations

from conversion.commands import options

NAME = "verify-copy"
HELP = "check a Parquet copy's page checksums and row counts against its card"


def add_arguments(parser) -> None:
    parser.add_argument("path", type=options.local_path, metavar="FOLDER",
                        help="the copy: the folder publish --out wrote")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from conversion.hub_copy import verify_copy

    result = verify_copy.verify(args.path, progress=not args.no_progress)
    print(verify_copy.format_check(result))
    return 1 if result.problems else 0
