"""Upload the Hub copy with huggingface_hub: one commit that makes the repository equal to the copy.

:func:`plan_commit` is the only place that decides what is sent: every file of the copy (README.md,
the shards under ``data/``, the card's figures and reports) is added or overwritten, and every
remote file inside those folders that the copy no longer has (a part's old shards after a re-publish
with another shard size) is deleted. Nothing else in the repository is touched (``.gitattributes``,
files its owner added elsewhere), and nothing else in the local folder is sent (notes, ``.env``,
the ``.publish`` state). The commit is one ``HfApi.create_commit`` against the revision that was
listed, so the published copy is either the old one or the new one, never a mix; files the Hub
already holds are not uploaded again when the command is re-run after an interruption.
"""

from __future__ import annotations

from dataclasses import dataclass

from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants, get_token

from conversion.hub_copy import copy_figures, publish, repo_ids
from conversion.hub_copy.parts import CARD, DATA

REPO_TYPE = "dataset"
MANAGED_FOLDERS = (f"{DATA}/", f"{copy_figures.FIGURES_DIR}/", f"{publish.LISTING.split('/')[0]}/")
"""Folders the copy owns on the Hub: remote files in them that the copy lacks are deleted."""


class UploadError(RuntimeError):
    """The upload cannot start or did not go through; the message says why and what to do."""


@dataclass
class Remote:
    """What the repository holds: its files at ``revision``, or why it could not be listed."""

    files: list[str] | None
    revision: str | None = None
    not_listed: str | None = None


@dataclass
class Commit:
    """The commit that makes the remote equal to the copy: files to add (with sizes) and to delete."""

    additions: list[tuple[str, int]]
    deletions: list[str] | None
    """None when the remote could not be listed (deletions unknown)."""

    def operations(self, folder) -> list:
        """huggingface_hub operations, deletions first (fresh objects: create_commit mutates them)."""
        deletes = [CommitOperationDelete(path_in_repo=path) for path in self.deletions or []]
        adds = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=str(folder / path)) for path, _ in self.additions]
        return deletes + adds


def _managed(path: str) -> bool:
    return path == CARD or path.startswith(MANAGED_FOLDERS)


def plan_commit(mirror: publish.Mirror, remote: Remote) -> Commit:
    """Add every file of the copy; delete remote files in the copy's folders that the copy lacks."""
    additions = sorted(mirror.files())
    outside = [path for path, _ in additions if not _managed(path)]
    if outside:
        raise UploadError(f"the copy lists files outside its own folders ({', '.join(outside)}): refusing to upload")
    if remote.files is None:
        return Commit(additions, None)
    ours = {path for path, _ in additions}
    return Commit(additions, sorted(p for p in remote.files if _managed(p) and p not in ours))


def list_remote(api, repo_id: str) -> Remote:
    """The repository's files at its current revision (read-only); an empty Remote if it does not exist."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        info = api.repo_info(repo_id, repo_type=REPO_TYPE)
    except RepositoryNotFoundError:
        return Remote(files=[])
    return Remote(files=sorted(api.list_repo_files(repo_id, repo_type=REPO_TYPE, revision=info.sha)), revision=info.sha)


def list_remote_read_only(repo_id: str | None, api=None) -> Remote:
    """For --dry-run: list the repository if possible (token optional), else say why it was not listed."""
    if not repo_id:
        return Remote(None, not_listed="no --repo-id given")
    if constants.HF_HUB_OFFLINE:
        return Remote(None, not_listed="HF_HUB_OFFLINE is set")
    token = get_token()
    api = api or HfApi(token=token or False)
    try:
        remote = list_remote(api, repo_id)
    except Exception as err:  # no network, no permission: the plan says so instead of failing
        return Remote(None, not_listed=f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    if remote.revision is None:  # not found: new, or private and this token cannot see it
        if not token:
            return Remote(None, not_listed="repository not found without a token: new, or private")
        remote.not_listed = "repository not found: it will be created, nothing to delete"
    return remote


def connect(repo_id: str, token: str | None = None, api: HfApi | None = None) -> HfApi:
    """An authenticated client that reached the Hub, or an ``UploadError`` at once."""
    try:
        repo_ids.check(repo_id)
    except repo_ids.BadRepoId as err:
        raise UploadError(f"--repo-id {err}") from None
    if constants.HF_HUB_OFFLINE:
        raise UploadError("HF_HUB_OFFLINE is set: uploading needs the Hub; unset it, or use --dry-run")
    token = token or get_token()
    if not token:
        raise UploadError("no Hugging Face token: run `hf auth login` or set HF_TOKEN (a token with write access)")
    api = api or HfApi(token=token)
    try:
        user = api.whoami()
    except Exception as err:
        raise UploadError(f"cannot reach the Hugging Face Hub at {constants.ENDPOINT} with this token: {err}") from err
    if not user:
        raise UploadError("the Hub did not recognise this token: run `hf auth login` again")
    return api


def upload(mirror: publish.Mirror, repo_id: str, api: HfApi, private: bool | None = None):
    """Create the dataset repository if needed, then send :func:`plan_commit`'s commit in one create_commit.

    Returns ``(commit info, Commit)``. The commit is made on the revision that was listed
    (``parent_commit``): if someone changed the repository meanwhile, the Hub refuses it and nothing
    changes; re-run to plan again.
    """
    api.create_repo(repo_id, repo_type=REPO_TYPE, exist_ok=True, private=private)
    remote = list_remote(api, repo_id)
    commit = plan_commit(mirror, remote)
    info = api.create_commit(
        repo_id=repo_id,
        repo_type=REPO_TYPE,
        operations=commit.operations(mirror.out),
        commit_message=f"GenImage-CL: {len(mirror.configs)} configs, {mirror.rows():,} rows",
        parent_commit=remote.revision,
    )
    return info, commit


def describe(commit: Commit, repo_id: str | None, out, remote: Remote) -> str:
    """The commit as printed by --dry-run: one line per file added (with its size) or deleted."""
    lines = [f"commit to {repo_id or '(no --repo-id given)'} from {out}, in the order it is sent:"]
    if commit.deletions is None:
        lines.append(f"  remote not listed ({remote.not_listed}): files it holds in "
                     f"{', '.join(MANAGED_FOLDERS)} that the copy lacks would be deleted too")
    else:
        lines.append(f"  remote listed at revision {remote.revision}" if remote.revision else
                     f"  remote: {remote.not_listed or 'empty'}")
        lines += [f"  delete  {'':>14}  {path}" for path in commit.deletions]
    lines += [f"  add     {size:>14,}  {path}" for path, size in commit.additions]
    total = sum(size for _, size in commit.additions)
    deleted = "unknown" if commit.deletions is None else len(commit.deletions)
    lines.append(f"  {len(commit.additions)} files to add ({total:,} bytes), {deleted} to delete")
    return "\n".join(lines)
