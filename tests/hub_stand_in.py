"""A stand-in for the Hugging Face Hub's repository API, on a local folder, for the upload tests.

It implements the ``HfApi`` calls the upload makes, with the Hub's rules: ``create_repo`` (a new
repository holds a ``.gitattributes``), ``repo_info`` / ``list_repo_files`` / ``list_repo_tree`` (and
``RepositoryNotFoundError`` for an unknown repository; the tree as huggingface_hub's ``RepoFile`` made from
the JSON the Hub sends, with each ``*.parquet`` file's LFS sha256), and ``create_commit``, which applies
``CommitOperationAdd`` / ``Delete`` / ``Copy`` all at once or not at all: a delete of a missing file,
a copy from a missing file, a stale ``parent_commit`` or a README.md whose YAML front matter does
not parse (or is not a mapping) is refused and the repository is left as it was. Each repository
is a folder ``root/<user>/<name>`` that ``datasets.load_dataset(<folder>, ...)`` reads directly.
Every commit's operations are recorded in ``commits`` for the tests to compare with the plan.
"""

from __future__ import annotations

import hashlib
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import SimpleNamespace

import httpx2
import yaml
from huggingface_hub import CommitOperationAdd, CommitOperationCopy, CommitOperationDelete
from huggingface_hub.errors import BadRequestError, HfHubHTTPError, RepositoryNotFoundError
from huggingface_hub.hf_api import RepoFile

GITATTRIBUTES = "*.parquet filter=lfs diff=lfs merge=lfs -text\n"


def _response(status: int, url: str) -> httpx2.Response:
    return httpx2.Response(status, request=httpx2.Request("POST", url))


@dataclass
class Commit:
    """One commit as the stand-in received it: (kind, path, source) per operation, in order."""

    repo_id: str
    message: str
    operations: list[tuple[str, str, str | None]] = field(default_factory=list)


class StandInHub:
    """``HfApi`` for repositories under ``root`` (see the module docstring)."""

    def __init__(self, root: Path, user: str = "me"):
        self.root = Path(root)
        self.user = user
        self.commits: list[Commit] = []

    # --- identity and repositories ---
    def whoami(self, token=None):
        return {"name": self.user, "type": "user"}

    def folder(self, repo_id: str) -> Path:
        return self.root / repo_id

    def _url(self, repo_id: str) -> str:
        return f"https://stand-in.hub/api/datasets/{repo_id}"

    def _existing(self, repo_id: str) -> Path:
        folder = self.folder(repo_id)
        if not folder.is_dir():
            raise RepositoryNotFoundError(f"404 Client Error: Repository Not Found for url: {self._url(repo_id)}",
                                          response=_response(404, self._url(repo_id)))
        return folder

    def create_repo(self, repo_id: str, *, repo_type=None, exist_ok=False, private=None, token=None, **kwargs):
        folder = self.folder(repo_id)
        if folder.is_dir():
            if not exist_ok:
                raise HfHubHTTPError(f"409 Conflict: You already created this dataset repo: {repo_id}",
                                     response=_response(409, self._url(repo_id)))
        else:
            folder.mkdir(parents=True)
            (folder / ".gitattributes").write_text(GITATTRIBUTES)
        return SimpleNamespace(repo_id=repo_id, url=f"https://stand-in.hub/datasets/{repo_id}")

    def _sha(self, repo_id: str) -> str:
        """The revision: a hash of the tree (paths and contents), so it is the same across processes."""
        folder = self.folder(repo_id)
        digest = hashlib.sha1()
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0"
                          + hashlib.sha1(path.read_bytes()).digest())
        return digest.hexdigest()

    def repo_info(self, repo_id: str, *, repo_type=None, revision=None, token=None, **kwargs):
        self._existing(repo_id)
        return SimpleNamespace(id=repo_id, sha=self._sha(repo_id))

    def list_repo_files(self, repo_id: str, *, repo_type=None, revision=None, token=None) -> list[str]:
        folder = self._existing(repo_id)
        if revision is not None and revision != self._sha(repo_id):
            raise HfHubHTTPError(f"404 Revision Not Found: {revision}", response=_response(404, self._url(repo_id)))
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())

    def list_repo_tree(self, repo_id: str, path_in_repo=None, *, recursive=False, expand=False, repo_type=None,
                       revision=None, token=None):
        prefix = f"{path_in_repo.strip('/')}/" if path_in_repo else ""
        files = [f for f in self.list_repo_files(repo_id, revision=revision) if f.startswith(prefix)]
        if not recursive:
            files = [f for f in files if "/" not in f[len(prefix):]]
        folder = self.folder(repo_id)
        return [RepoFile(**self._tree_entry(folder, f, expand)) for f in files]

    @staticmethod
    def _tree_entry(folder: Path, path: str, expand: bool) -> dict:
        """A file as the Hub's tree API sends it: git blob id, size, and for an LFS file (``*.parquet`` by the
        ``.gitattributes``) its LFS object: sha256 of the content, its size and the pointer's size."""
        content = (folder / path).read_bytes()
        entry = {"type": "file", "path": path, "size": len(content),
                 "oid": hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()}
        if path.endswith(".parquet"):
            sha = hashlib.sha256(content).hexdigest()
            pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha}\nsize {len(content)}\n"
            entry["lfs"] = {"oid": sha, "size": len(content), "pointerSize": len(pointer)}
        if expand:
            entry["lastCommit"] = {"id": "0" * 40, "title": "stand-in", "date": "2026-01-01T00:00:00.000Z"}
        return entry

    # --- commits ---
    @staticmethod
    def _content(op: CommitOperationAdd) -> bytes:
        source = op.path_or_fileobj
        if isinstance(source, bytes):
            return source
        if isinstance(source, io.IOBase):
            return source.read()
        return Path(source).read_bytes()

    def _refuse(self, repo_id: str, message: str):
        raise BadRequestError(f"400 Bad Request: {message}", response=_response(400, self._url(repo_id)))

    def create_commit(self, repo_id: str, operations, *, commit_message: str, repo_type=None, parent_commit=None,
                      token=None, revision=None, create_pr=None, **kwargs):
        folder = self._existing(repo_id)
        if parent_commit is not None and parent_commit != self._sha(repo_id):
            raise HfHubHTTPError(f"412 Precondition Failed: {parent_commit} is not the head of {repo_id}",
                                 response=_response(412, self._url(repo_id)))
        operations = list(operations)
        tree = {f: (folder / f).read_bytes() for f in self.list_repo_files(repo_id)}
        record = Commit(repo_id, commit_message)
        for op in operations:  # applied to a copy of the tree: all or nothing
            path = str(PurePosixPath(op.path_in_repo))
            if isinstance(op, CommitOperationAdd):
                tree[path] = self._content(op)
                record.operations.append(("add", path, None))
            elif isinstance(op, CommitOperationDelete):
                gone = [f for f in tree if f.startswith(path)] if op.is_folder else [path] * (path in tree)
                if not gone:
                    self._refuse(repo_id, f"cannot delete {path}: no such file in {repo_id}")
                for f in gone:
                    del tree[f]
                record.operations.append(("delete", path, None))
            elif isinstance(op, CommitOperationCopy):
                if op.src_path_in_repo not in tree:
                    self._refuse(repo_id, f"cannot copy {op.src_path_in_repo}: no such file in {repo_id}")
                tree[path] = tree[op.src_path_in_repo]
                record.operations.append(("copy", path, op.src_path_in_repo))
            else:
                self._refuse(repo_id, f"unknown operation {op!r}")
        if "README.md" in tree:
            self._validate_card(repo_id, tree["README.md"].decode("utf-8"))
        shutil.rmtree(folder)
        for path, content in tree.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_bytes(content)
        self.commits.append(record)
        return SimpleNamespace(oid=self._sha(repo_id), commit_message=commit_message)

    def _validate_card(self, repo_id: str, text: str) -> None:
        """The Hub's check of a dataset card: YAML front matter that parses to a mapping."""
        if not text.startswith("---\n"):
            return
        front, sep, _ = text[4:].partition("\n---\n")
        if not sep:
            self._refuse(repo_id, "README.md: YAML front matter is not closed by '---'")
        try:
            metadata = yaml.safe_load(front)
        except yaml.YAMLError as err:
            self._refuse(repo_id, f"README.md: invalid YAML metadata: {err}")
        if not isinstance(metadata, dict):
            self._refuse(repo_id, "README.md: YAML metadata must be a mapping")
        for config in metadata.get("configs", []):
            if not isinstance(config, dict) or "config_name" not in config or "data_files" not in config:
                self._refuse(repo_id, f"README.md: invalid configs entry {config!r}")
        if sum(bool(c.get("default")) for c in metadata.get("configs", [])) > 1:
            self._refuse(repo_id, "README.md: more than one default config")
