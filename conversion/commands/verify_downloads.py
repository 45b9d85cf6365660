"""Check downloaded GenImage zip parts (``<inner>.z01`` ... ``<inner>.zip``) against the official md5 list.

Looks for parts anywhere below DIR and reports, per generator, missing, corrupt (md5 mismatch) and
extra parts; exits with status 1 if there is any. Files are read in parallel.

Examples:
  python -m conversion verify-downloads /data/GenImage-zips --jobs 8
  python -m conversion verify-downloads /data/GenImage-zips --generators adm,sdv14
"""

from __future__ import annotations

import os

from conversion.commands import options

NAME = "verify-downloads"
HELP = "check GenImage zip parts against the official md5 list"


def add_arguments(parser) -> None:
    parser.add_argument("path", type=options.local_path, metavar="DIR", help="folder holding the downloaded zip parts")
    parser.add_argument("--generators", type=options.generator_keys, action=options.KeyList, metavar=options.KEYS,
                        help="generators that must be complete, comma-separated (default: every generator with a "
                             "part in DIR)")
    parser.add_argument("--jobs", type=options.positive_int, default=min(8, os.cpu_count() or 1),
                        help="files read in parallel (default: CPUs, at most 8)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from conversion.sources import verify_downloads

    checks = verify_downloads.verify(args.path, args.generators, args.jobs, progress=not args.no_progress)
    print(verify_downloads.format_checks(checks))
    problems = [c for c in checks if c.status in verify_downloads.PROBLEMS]
    print(f"{len(checks) - len(problems)} parts ok, {len(problems)} problem(s)")
    return 1 if problems else 0
