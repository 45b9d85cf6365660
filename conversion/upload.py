"""Upload the Hub copy's folder with huggingface_hub, failing fast when that cannot work.

``HfApi.upload_folder`` (huggingface_hub 2.x) hashes and uploads the files, commits them in batches
and skips what the repository already holds, so re-running after an interruption resumes.
"""

from __future__ import annotations


from huggingface_hub import HfApi, constants, get_token

from conversion import publish

IGNORE_PATTERNS = [f"{publish.STATE_DIR}/**", "**/*.tmp"]


class UploadError(RuntimeError):
    """The upload cannot start or did not go through; the message says why and what to do."""


def connect(repo_id: str, token: str | None = None, api: HfApi | None = None) -> HfApi:
    """An authenticated client that reached the Hub, or an ``UploadError`` at once."""
    if "/" not in repo_id or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise UploadError(f"--repo-id must look like USER/NAME, got {repo_id!r}")
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
    """Create the dataset repository if needed and upload the folder (README.md and data/)."""
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private)
    return api.upload_folder(
        repo_id=repo_id,
        repo_type="dataset",
        folder_path=str(mirror.out),
        ignore_patterns=IGNORE_PATTERNS,
        commit_message=f"GenImage-CL: {len(mirror.configs)} configs, {mirror.rows():,} rows",
    )


def plan(mirror: publish.Mirror, repo_id: str | None) -> str:
    """What an upload would send: every file with its size, and the configs the card declares."""
    files = mirror.files()
    lines = [f"upload plan for {repo_id or '(no --repo-id given)'} from {mirror.out}:"]
    lines += [f"  {size:>14,}  {path}" for path, size in files]
    lines.append(f"  {sum(s for _, s in files):>14,}  total in {len(files)} files")
    lines.append(f"configs: {', '.join(mirror.configs)}")
    return "\n".join(lines)
