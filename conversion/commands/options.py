"""Argument types shared by the sub-commands: a bad value fails in argparse, naming its option, before any work.

Only light modules are imported here (and in every command module's top level), so that
``python -m conversion --help`` does not load datasets or torch.

Every list option takes comma-separated keys, ``--generators adm,sdv14`` (metavar ``KEY[,KEY...]``):
its type is :func:`comma_list` of a one-key type, its action :class:`KeyList`, so that giving the
option again adds keys (``--part sdv14-task0 --part sdv14-task1``), each key once.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from conversion import local_paths
from conversion.contract import configs, tables
from conversion.pixels import corruption_recipe
from conversion.sources.raw_tree import ORIGINAL

KEYS = "KEY[,KEY...]"
"""Metavar of a list option."""


def comma_list(item: Callable[[str], str], what: str) -> Callable[[str], list[str]]:
    """The type of a list option: ``KEY[,KEY...]``, spaces around keys ignored, each key checked by
    ``item`` (which raises ``argparse.ArgumentTypeError``), each kept once, at least one."""

    def keys(text: str) -> list[str]:
        found = []
        for key in (part.strip() for part in text.split(",")):
            if key and (value := item(key)) not in found:
                found.append(value)
        if not found:
            raise argparse.ArgumentTypeError(f"give {what}, comma-separated ({KEYS}), got {text!r}")
        return found

    keys.__name__ = what  # argparse names the type in some of its messages
    return keys


class KeyList(argparse.Action):
    """The action of a list option: each occurrence adds its keys to the list (each key once)."""

    def __call__(self, parser, namespace, values, option_string=None):
        found = list(getattr(namespace, self.dest, None) or ())
        setattr(namespace, self.dest, found + [value for value in values if value not in found])


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
    """A Hub repository id, ``USER/NAME``, valid by huggingface_hub's rules
    (:func:`conversion.hub_copy.repo_ids.check`)."""
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


config_names = comma_list(config_name, "config names")


def generator_key(text: str) -> str:
    """A generator key, compared without case (not a config name: ``disjoint`` is not a generator)."""
    key = text.strip().lower()
    known = tables.generators()
    if key not in known:
        kind = "a config, not a generator" if key in configs.config_parts() else "not a generator key"
        raise argparse.ArgumentTypeError(
            f"{key!r} is {kind}{configs.suggestion(key, known)}; generators: {', '.join(known)}")
    return key


generator_keys = comma_list(generator_key, "generator keys")


def corruption_name(text: str) -> str:
    if text not in corruption_recipe.CORRUPTIONS:
        raise argparse.ArgumentTypeError(f"unknown corruption(s) {text}; expected a comma-separated list of "
                                         f"{', '.join(corruption_recipe.CORRUPTIONS)} or 'all'")
    return text


def corruption_names(text: str) -> list[str]:
    """Comma-separated corruption names of the release's recipe, or ``all``."""
    if text.strip().lower() == "all":
        return list(corruption_recipe.CORRUPTIONS)
    return _corruption_list(text)


_corruption_list = comma_list(corruption_name, "corruption names")
