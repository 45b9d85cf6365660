"""Check a Parquet copy (a publish output folder) before uploading or after downloading it.

Reads every shard under FOLDER/data in full with Parquet page checksum verification and names each
damaged shard; compares the rows of every config and split with the card's (README.md) dataset_info.
Exits with status 1 on any problem. Shards are written with page checksums since this check exists;
pages written without one cannot be checked (only their decoding can fail).

Example:
  python -m conversion verify-copy genimage-cl
"""

from __future__ import annotations

from conversion.commands import options

NAME = "verify-copy"
HELP = "check a Parquet copy's page checksums and row counts against its card"


def add_arguments(parser) -> None:
    parser.add_argument("path", type=options.local_path, metavar="FOLDER", help="the copy: the folder publish --out wrote")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from conversion.hub_copy import verify_copy

    result = verify_copy.verify(args.path, progress=not args.no_progress)
    print(verify_copy.format_check(result))
    return 1 if result.problems else 0
