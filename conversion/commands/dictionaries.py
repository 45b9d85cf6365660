"""Regenerate the tables in dictionaries/ from the design notes' reference files.

Example:
  python -m conversion dictionaries --reference ../shared/reference --design ../shared/design.md
"""

from __future__ import annotations

from pathlib import Path

from conversion import reference_tables, tables

NAME = "dictionaries"
HELP = "regenerate dictionaries/ from the reference files (byte for byte)"


def add_arguments(parser) -> None:
    parser.add_argument("--reference", type=Path, default=Path("../shared/reference"), help="folder of reference files")
    parser.add_argument("--design", type=Path, default=Path("../shared/design.md"), help="design notes (generator table)")
    parser.add_argument("--out", type=Path, default=tables.DICTIONARIES, help="output folder (default: dictionaries/)")


def run(args) -> int:
    for path in reference_tables.write(args.reference, args.design, args.out):
        print(f"wrote {path}")
    return 0
