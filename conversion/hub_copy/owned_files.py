"""The files of an output folder that a run of ours wrote: the only files a run may delete or replace.

Before a run writes a file into the folder it records the file's path (relative to the folder) in a
record of its own group (one per part, so parallel jobs holding different part locks never write the
same record; ``card`` for README.md, the figures and the listing). A killed run therefore leaves no
file of ours unrecorded. Deleting goes through :meth:`Records.delete`, which unlinks recorded files
only; :meth:`Records.foreign` lists files in the places a run writes that no record holds, so that a
run refuses, before any work, to replace anything it did not write (a source tree or a clone of a Hub
repository placed inside the folder, a user's own README.md).

Records are small JSON files under ``<folder>/<state>/owned/``, written atomically.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from conversion import atomic_files, regular_files

RECORDS_DIR = "owned"
CARD_GROUP = "card"


class ForeignFiles(RuntimeError):
    """Files in the output folder that no run of ours recorded writing: they are never deleted or replaced."""


class DamagedRecord(RuntimeError):
    """A record that is not a JSON list of relative paths inside the folder: nothing is deleted by it."""


class Records:
    """Write-ahead records of what runs wrote into ``folder`` (kept under ``folder/state_dir``)."""

    def __init__(self, folder: str | os.PathLike, state_dir: str):
        self.folder = Path(folder)
        self.dir = self.folder / state_dir / RECORDS_DIR

    def _path(self, group: str) -> Path:
        return self.dir / f"{group}.json"

    def exists(self) -> bool:
        return self.dir.is_dir()

    def group(self, group: str) -> set[str]:
        path = self._path(group)
        try:
            entries = json.loads(regular_files.read_text(path))
        except FileNotFoundError:
            return set()
        except (OSError, ValueError) as err:
            raise DamagedRecord(f"{path}: unreadable record of written files ({err}); it lists what a run may "
                                "delete: restore it or start a new output folder") from None
        if not isinstance(entries, list) or not all(isinstance(e, str) and _is_inside(e) for e in entries):
            raise DamagedRecord(f"{path}: not a list of paths inside {self.folder}; it lists what a run may delete: "
                                "restore it or start a new output folder")
        return set(entries)

    def groups(self) -> dict[str, set[str]]:
        if not self.dir.is_dir():
            return {}
        return {path.stem: self.group(path.stem) for path in sorted(self.dir.glob("*.json"))}

    def owned(self) -> set[str]:
        return set().union(*self.groups().values())

    def _write(self, group: str, paths: set[str]) -> None:
        path = self._path(group)
        if not paths:
            path.unlink(missing_ok=True)
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_files.write_json(path, sorted(paths), indent=0)

    def claim(self, group: str, paths) -> None:
        """Record ``paths`` (relative, POSIX) as written by ``group`` before they are written."""
        paths = {_relative(p) for p in paths}
        held = self.group(group)
        if not paths <= held:
            self._write(group, held | paths)

    def delete(self, group: str, paths) -> list[str]:
        """Unlink those of ``paths`` that ``group`` recorded (others are left alone) and drop them from
        its record; folders emptied by it are removed. Returns the paths deleted."""
        held = self.group(group)
        gone = sorted(held & {_relative(p) for p in paths})
        top = Path(os.path.realpath(self.folder))
        for rel in gone:
            target = self.folder / rel
            parent = Path(os.path.realpath(target.parent))
            if parent != top and top not in parent.parents:
                raise DamagedRecord(f"{target}: its folder leads out of {self.folder} (a link): not deleted")
            if target.is_symlink() or (os.path.lexists(target) and not target.is_dir()):
                target.unlink()  # a file, link or FIFO at a path ours wrote; never a folder
            _remove_empty_parents(target.parent, self.folder)
        if gone:
            self._write(group, held - set(gone))
        return gone

    def delete_under(self, group: str, folder: str) -> list[str]:
        """Delete every file ``group`` recorded under ``folder`` (relative); :class:`ForeignFiles` first,
        deleting nothing, if the folder holds a file that no record lists."""
        prefix = _relative(folder).rstrip("/") + "/"
        self.refuse_foreign([folder])
        return self.delete(group, [p for p in self.group(group) if p.startswith(prefix)])

    def foreign(self, places, limit: int = 4) -> list[str]:
        """Up to ``limit`` files (links, FIFOs, ...) at or under the relative ``places`` that no record
        lists; folder links are reported, never followed."""
        owned = self.owned()
        found = []
        for place in places:
            path = self.folder / place
            if path.is_dir() and not path.is_symlink():
                for root, dirs, files in os.walk(path):
                    entries = sorted(files + [d for d in dirs if os.path.islink(os.path.join(root, d))])
                    dirs.sort()
                    for name in entries:
                        rel = Path(root, name).relative_to(self.folder).as_posix()
                        if rel not in owned:
                            found.append(rel)
                            if len(found) >= limit:
                                return found
            elif os.path.lexists(path) and _relative(place) not in owned:
                found.append(_relative(place))
                if len(found) >= limit:
                    return found
        return found

    def refuse_foreign(self, places) -> None:
        found = self.foreign(places)
        if found:
            more = " (and more)" if len(found) > 3 else ""
            raise ForeignFiles(
                f"{self.folder}: {', '.join(found[:3])}{more} not written by genimage-cl; a run deletes and replaces "
                f"only files it wrote: move them out of {self.folder} or choose another output folder")


def _is_inside(text: str) -> bool:
    parts = Path(text).parts
    return bool(parts) and not Path(text).is_absolute() and ".." not in parts


def _relative(path) -> str:
    text = Path(path).as_posix()
    if not _is_inside(text):
        raise ValueError(f"{path}: not a path inside the output folder")
    return text


def _remove_empty_parents(folder: Path, top: Path) -> None:
    """Remove ``folder`` and its parents up to (not including) ``top`` while they are empty."""
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
