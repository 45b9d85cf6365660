"""Regenerate the tables in dictionaries/ from the project's reference files (a maintainer command).

The tables ship with the package: users never need this. Maintainers run it with the reference
files (ImageNet class index, clsloc map, val ground truth, Tiny-ImageNet list, the release's class
sets, GenImage md5 list; see docs/README.md#reference-files) and the generator table of
docs/genimage-tree.md#generators.

Example:
  python -m conversion dictionaries --reference ../shared/reference --generators docs/genimage-tree.md
"""

from __future__ import annotations

from pathlib import Path

from conversion.commands import options
from conversion.contract import derive_tables, tables

NAME = "dictionaries"
HELP = "maintainers: regenerate dictionaries/ from the reference files (byte for byte)"


def add_arguments(parser) -> None:
    parser.add_argument("--reference", type=options.local_path, default=Path("../shared/reference"),
                        help="folder of reference files")
    parser.add_argument("--generators", type=options.local_path, default=Path("docs/genimage-tree.md"),
                        help="page holding the generator table")
    parser.add_argument("--out", type=options.local_path, default=tables.DICTIONARIES,
                        help="output folder (default: dictionaries/)")


def run(args) -> int:
    try:
        written = derive_tables.write(args.reference, args.generators, args.out)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"dictionaries is a maintainer command: it needs the reference files (--reference, default "
            f"../shared/reference; see docs/README.md#reference-files) and the generator table (--generators, "
            f"default docs/genimage-tree.md); missing "
            f"{err.filename}. The tables in dictionaries/ ship with the package: nothing to do to use it"
        ) from err
    for path in written:
        print(f"wrote {path}")
    return 0
