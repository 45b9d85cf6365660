"""What a build source provides: the shape shared by a raw GenImage tree and a CL tensor release.

:class:`Source` is what :func:`conversion.sources.kinds.open_source` returns and what the builder
(:mod:`conversion.builder.genimage_cl`), the corrupted rows (:mod:`conversion.builder.corrupted_rows`),
``publish`` and the ImageFolder export take; :class:`conversion.sources.raw_tree.RawTreeSource` and
:class:`conversion.sources.release.ReleaseSource` both provide it (structurally: neither inherits it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # only for the annotations: importing these here would import torch with this module
    import torch

    from conversion.sources.raw_tree import Item, Plan
    from conversion.sources.release import CopyKey


class Source(Protocol):
    """A build source: listed once when opened, planned per split, converted lazily (picklable for workers)."""

    kind: str
    """Which kind it is: :data:`conversion.sources.kinds.RAW_TREE` or :data:`conversion.sources.kinds.RELEASE`."""
    description: str
    """The kind in words, for messages (``"raw GenImage tree"``, ``"CL tensor release"``)."""
    root: Path
    """The folder it was opened at (``data_dir``)."""

    @property
    def generators(self) -> list[str]:
        """The keys of the generators it holds (those it was opened for), sorted."""

    def require(self, generator_keys: list[str], image_size=64) -> None:
        """A clear error, as the opening would have given, unless it holds ``generator_keys`` at ``image_size``."""

    def parts(self) -> list[tuple[str, int]]:
        """Every (generator, task) it holds."""

    def fingerprint(self, generators: list[str] | None = None) -> str:
        """Hex digest of what the files of ``generators`` (default: all of its own) are now (names, sizes,
        modification and change times, inodes): the part of the cache key that makes a changed source rebuild."""

    def split_plan(self, split: str, parts: list[tuple[str, int]]) -> Plan:
        """The sorted items of ``split`` for the (generator, task) ``parts``, with the skips and the accounting."""

    def examples(self, items: list[Item], split: str, image_size, log=None,
                 check: str = "decode") -> Iterator[tuple[str, dict]]:
        """(key, row) of each item kept, its image at ``image_size`` (checked as ``check`` says); ``log``
        (a :class:`conversion.builder.build_report.ShardLog`) is told of each item kept or skipped."""

    def corrupted_copies(self) -> tuple[dict[CopyKey, Path], list[tuple[CopyKey | None, str]]]:
        """Its usable corrupted test copies (``X_<corruption>.pt``), and one line per unusable one."""

    def corrupted_copy(self, generator: str, task: int, source: str, corruption: str) -> torch.Tensor | None:
        """Its own float32 corrupted copy of a test part; None if it has none (then the recipe makes it)."""
