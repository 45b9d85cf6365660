"""Load a release tensor file safely: ``torch.load(weights_only=True)``, then check what it holds.

``weights_only=True`` refuses pickled objects other than tensors and plain containers, so a file
from the internet cannot run code. The result must further be one plain tensor of the expected
dtype and shape, else :class:`BadTensorFile` says what was found. Files are memory-mapped where
their format allows, so a 10 GB ``X.pt`` is not read into memory at once. torch's zip container stores
a CRC-32 of every member that torch itself never checks: :func:`check_crcs` reads the file once and
compares them, so a flipped bit (a label moved to another class of the same task) is refused.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile

import torch


class BadTensorFile(ValueError):
    """A tensor file that is unreadable or holds something other than the expected tensor."""


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.layout} {value.dtype} tensor of shape {list(value.shape)}"
    return f"a {type(value).__name__}"


def _shape_text(shape) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def _torch_load(path: str, mmap: bool):
    return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)


_checked: set[tuple] = set()
"""Files whose CRCs matched in this process, by (path, size, mtime, ctime, inode): each is read once."""


def check_crcs(path: str) -> None:
    """:class:`BadTensorFile` naming ``path`` and the member unless every CRC-32 in its zip matches."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    if key in _checked:
        return
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise BadTensorFile(f"{path}: damaged zip container ({type(err).__name__}: {err})") from None
    if bad is not None:
        raise BadTensorFile(f"{path}: CRC-32 mismatch in its member {bad}: the file is damaged; copy or download it again")
    _checked.add(key)


def load_tensor(path: str | os.PathLike, dtype: torch.dtype, shape: tuple[int | None, ...],
                check: bool = True) -> torch.Tensor:
    """The tensor in ``path``, checked to be ``dtype`` with ``shape`` (``None`` matches any size).

    Raises :class:`BadTensorFile` naming the file for anything else: a CRC mismatch (with ``check``;
    pass False only for a file checked before in this build), not a torch file, objects that
    ``weights_only`` refuses, a dict or list instead of a tensor, another dtype or shape.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise BadTensorFile(f"{path}: no such file")
    mmap = zipfile.is_zipfile(path)  # only the zip format (torch >= 1.6) can be memory-mapped
    if mmap and check:
        check_crcs(path)
    try:
        value = _torch_load(path, mmap)
    except pickle.UnpicklingError as err:
        found = re.search(r"[^\n]*unsupported [^\n]*", str(err), re.IGNORECASE)
        why = found.group(0).strip() if found else type(err).__name__
        raise BadTensorFile(f"{path}: refused, it holds objects other than tensors ({why})") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise BadTensorFile(f"{path}: not a readable torch tensor file ({type(err).__name__}: {err})") from None
    expected = f"a {dtype} tensor of shape {_shape_text(shape)}"
    if not isinstance(value, torch.Tensor) or value.layout != torch.strided or value.is_quantized:
        raise BadTensorFile(f"{path}: expected {expected}, found {_describe(value)}")
    if value.dtype != dtype or value.dim() != len(shape) or any(
        want is not None and have != want for have, want in zip(value.shape, shape)
    ):
        raise BadTensorFile(f"{path}: expected {expected}, found {_describe(value)}")
    return value


def load_release_pair(x_path: str | os.PathLike, y_path: str | os.PathLike, size: int = 64):
    """A release ``X.pt`` (float32 [N, 3, size, size]) and ``y.pt`` (int64 [N], 0..999), checked together."""
    x = load_tensor(x_path, torch.float32, (None, 3, size, size))
    y = load_tensor(y_path, torch.int64, (None,))
    if len(x) != len(y):
        raise BadTensorFile(f"{x_path} holds {len(x)} images but {y_path} {len(y)} labels")
    if len(y) and (int(y.min()) < 0 or int(y.max()) > 999):
        raise BadTensorFile(f"{y_path}: labels must be clsloc ids - 1 in 0..999, found {int(y.min())}..{int(y.max())}")
    return x, y
