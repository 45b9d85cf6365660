"""Hub repository ids as this project takes them: ``USER/NAME``, valid by huggingface_hub's own rules.

Light to import (huggingface_hub is imported on the first call), so that argparse can check
``--repo-id`` before any work (:func:`conversion.commands.options.repo_id`).
"""

from __future__ import annotations


class BadRepoId(ValueError):
    """A repository id that is not ``USER/NAME`` or that huggingface_hub refuses."""


def check(repo_id: str) -> str:
    """``repo_id`` itself if it is ``USER/NAME`` (a namespace is needed: the copy's card and the upload
    name the user's or organisation's repository) and :func:`huggingface_hub.utils.validate_repo_id`
    accepts it; :class:`BadRepoId` saying why otherwise."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    user, slash, name = repo_id.partition("/")
    if not slash or not user or not name or "/" in name:
        raise BadRepoId(f"must look like USER/NAME (e.g. me/genimage-cl), got {repo_id!r}")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as err:
        raise BadRepoId(f"not a valid Hub repository id: {err}") from None
    return repo_id
