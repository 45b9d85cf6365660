"""Helpers only the tests use: the package has no caller for them."""

from __future__ import annotations

import os
from pathlib import Path

from conversion import atomic_files


def leftover_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Temporary files of atomic writes (:data:`conversion.atomic_files.TEMPORARY`) anywhere under ``folder``."""
    return [p for p in Path(folder).rglob("*") if atomic_files.TEMPORARY.fullmatch(p.name)]
