"""``python -m conversion <command>``: one sub-command per module, errors as one clear line."""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys

COMMANDS = (
    "conversion.commands.demo",
    "conversion.commands.dictionaries",
    "conversion.commands.report",
    "conversion.commands.verify_downloads",
    "conversion.commands.verify_copy",
    "conversion.commands.export_imagefolder",
    "conversion.commands.publish",
    "conversion.commands.sample_release",
)
"""Modules that each define ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args)``; they import
heavy modules (datasets, torch, huggingface_hub) only inside ``run``, so that help is quick."""
DEBUG_HELP = "show full tracebacks and debug logs"
DISTRIBUTION = "genimage-cl"
"""The installed distribution whose version ``--version`` prints (``pip install -e .`` installs it)."""


def version() -> str:
    from importlib import metadata

    try:
        return f"{DISTRIBUTION} {metadata.version(DISTRIBUTION)}"
    except metadata.PackageNotFoundError:
        return f"{DISTRIBUTION} (version unknown: not installed; pip install -e . in the checkout)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conversion",
        description="GenImage-CL: build, check and publish the GenImage continual-learning benchmark.",
        epilog="Example: python -m conversion demo (or genimage-cl demo, the console script pip install -e . adds)",
    )
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    parser.add_argument("--version", action="version", version=version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS:
        module = importlib.import_module(module_name)
        command = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        # also after the command; SUPPRESS keeps a --debug given before it
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
        command.set_defaults(run=module.run)
    return parser


OUTPUT_ARGUMENTS = ("out", "workdir", "cache_dir", "path")
"""Attributes of a command's arguments that name where it writes (or reads), first found first."""


def _is_unnamed_os_error(err: BaseException) -> bool:
    return isinstance(err, OSError) and err.errno is not None and not err.filename


def _without_path(err: OSError, args) -> str:
    """An OS error that names no file (a full disk inside pyarrow or datasets): say which folder the
    command was working in, and what to do about a full disk."""
    folder = next((getattr(args, name) for name in OUTPUT_ARGUMENTS if getattr(args, name, None)), None)
    where = f" while {args.command} was working in {folder}" if folder else ""
    hint = ": free space there or choose another folder" if err.errno == errno.ENOSPC else ""
    return f"{err.strerror or err} ([Errno {err.errno}]){where}{hint}"


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # no command: the help, as a successful request for it
        parser.print_help()
        sys.exit(0)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        code = args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as err:  # one clear line for users; the traceback with --debug
        if args.debug:
            raise
        # datasets' generic generation error -> the error naming the file
        from conversion.builder.culprits import cause_of

        err = cause_of(err) or err
        message = (_without_path(err, args) if _is_unnamed_os_error(err) else str(err)).strip() or type(err).__name__
        print(f"error: {'; '.join(line.strip() for line in message.splitlines() if line.strip())}", file=sys.stderr)
        sys.exit(1)
    sys.exit(code or 0)
