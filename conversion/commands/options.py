"""Argument types shared by the sub-commands: a bad value fails in argparse, naming its option, before any work.

Only light modules are imported here (and in every command module's top level), so that
``python -m conversion --help`` does not load datasets or torch.
"""

from __future__ import annotations

import argparse

from conversion import local_paths
from conversion.contract import configs, tables
from conversion.sources.raw_tree import ORIGINAL


def local_path(text: str):
    """A plain local path, ``~`` expanded (:func:`conversion.local_paths.local_path`)."""
    try:
        return local_paths.local_path(text)
    except local_paths.BadPath as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def image_size(text: str):
    """A positive integer, or ``original`` (also ``none``) for the source files untouched."""
    if text.lower() in (ORIGINAL, "none"):
        return ORIGINAL
    try:
        return positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be a positive integer or '{ORIGINAL}', got {text!r}") from None


def repo_id(text: str) -> str:
    """A Hub repository id, ``USER/NAME``, valid by huggingface_hub's rules (:func:`conversion.hub_copy.repo_ids.check`)."""
    from conversion.hub_copy import repo_ids

    try:
        return repo_ids.check(text)
    except repo_ids.BadRepoId as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def config_name(text: str) -> str:
    """A config name, compared without case; a misspelling names the closest configs."""
    try:
        return configs.resolve(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def generator_keys(text: str) -> list[str]:
    """Comma-separated generator keys (not config names: ``disjoint`` is not a generator)."""
    keys = [key.strip().lower() for key in text.split(",") if key.strip()]
    known = tables.generators()
    for key in keys:
        if key not in known:
            kind = "a config, not a generator" if key in configs.config_parts() else "not a generator key"
            raise argparse.ArgumentTypeError(
                f"{key!r} is {kind}{configs.closest(key, known)}; generators: {', '.join(known)}")
    if not keys:
        raise argparse.ArgumentTypeError(f"give comma-separated generator keys: {', '.join(known)}")
    return keys
