"""Each shard's sha256: recorded in its part's manifest when written, checked by verify-copy.

The sha256 of a file's bytes is what the Hub's LFS pointer of that file holds, so the same digest
checks a local copy against its manifest and against the Hub repository it was uploaded to
(``HfApi.list_repo_tree(..., expand=True)`` gives each LFS file's ``lfs.sha256``). Unlike the page
checksums, it covers every byte: a damaged footer or page index fails it too.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from conversion import regular_files

KEY = "sha256"
"""The key of a shard's digest in its manifest entry (beside ``path`` and ``size``)."""


def file_sha256(path: str | os.PathLike) -> str:
    """The hex sha256 of the regular file ``path`` (never through a link)."""
    with regular_files.open_regular(path) as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def fill_missing(files: list[dict], out: Path) -> bool:
    """Record the digest of every manifest entry in ``files`` that lacks one (a part written before digests
    were recorded), from the shard in ``out`` as it is; whether any was added."""
    missing = [f for f in files if KEY not in f]
    for entry in missing:
        entry[KEY] = file_sha256(out / entry["path"])
    return bool(missing)


def recorded(manifests: list[Path]) -> tuple[dict[str, str], list[str]]:
    """{shard path: sha256} from the part manifests ``manifests``, and one line per manifest that cannot be read."""
    digests, problems = {}, []
    for path in manifests:
        try:
            part = json.loads(regular_files.read_text(path))
            files = [f for s in [*part["splits"].values(), *part.get("corrupted", {}).values()] for f in s["files"]]
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as err:
            problems.append(f"{path}: unreadable part manifest ({type(err).__name__}: {err}); its digests not checked")
            continue
        digests.update({f["path"]: f[KEY] for f in files if isinstance(f, dict) and KEY in f})
    return digests, problems


def hub_digests(api, repo_id: str, folder: str, revision: str | None = None) -> dict[str, str | None]:
    """{path: LFS sha256} of every file under ``folder`` in the Hub dataset repository ``repo_id`` (None for a
    file stored without LFS), as ``HfApi.list_repo_tree(recursive=True, expand=True)`` lists them."""
    entries = api.list_repo_tree(repo_id, path_in_repo=folder, recursive=True, expand=True, repo_type="dataset",
                                 revision=revision)
    found = {}
    for entry in entries:
        if hasattr(entry, "size"):  # a RepoFile (RepoFolder entries have no size)
            lfs = getattr(entry, "lfs", None)
            found[entry.path] = getattr(lfs, "sha256", None) if lfs is not None else None
    return found
