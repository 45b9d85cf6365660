"""Load a release tensor file safely: ``torch.load(weights_only=True)``, then check what it holds.

``weights_only=True`` refuses pickled objects other than tensors and plain containers, so a file
from the internet cannot run code. The result must further be one plain tensor of the expected
dtype and shape whose rows lie one after another in its stored bytes (no expanded or strided view
of a smaller storage), else :class:`BadTensorFile` says what was found.

A torch zip file is loaded onto the ``meta`` device, which reads its dtype, shape and layout but no
data; its rows are then read with ordinary file reads at the data member's offset
(:class:`TensorFile`), so memory stays bounded by the rows asked for, and a file truncated while
it is read gives a short read, named as an error, where a memory-mapped tensor would kill the
process with SIGBUS. Before that its zip directory is checked (one uncompressed member per name,
none claiming more bytes than the file holds, as torch's writer makes them), and torch's CRC-32 of
every member, which torch itself never checks, is compared once (:func:`_check_crcs`), so a flipped
bit (a label moved to another class of the same task) is refused. Files of torch's legacy format
(before 1.6) are loaded into memory as a whole.
"""

from __future__ import annotations

import os
import pickle
import re
import struct
import sys
import zipfile
from collections import Counter
from math import prod

import torch

from conversion import regular_files
from conversion.sources import content_digests

LOCAL_HEADER = struct.Struct("<4s22xHH")
"""A zip member's local header: signature, 22 bytes, then the lengths of its name and extra field."""
LOCAL_SIGNATURE = b"PK\x03\x04"
DATA_FOLDER = "data"
"""torch's zip holds each storage as ``<archive>/data/<key>``; a file of one tensor holds one."""
BYTEORDER = "byteorder"


class BadTensorFile(ValueError):
    """A tensor file that is unreadable or holds something other than the expected tensor."""


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.layout} {value.dtype} tensor of shape {list(value.shape)}"
    return f"a {type(value).__name__}"


def _shape_text(shape) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def _identity(st: os.stat_result) -> tuple:
    """What tells a file from its repair or replacement (a new hard link or chmod does not change it)."""
    return st.st_size, st.st_mtime_ns, st.st_ino


def _refuse_unusual_members(path: str, infos: list[zipfile.ZipInfo], size: int) -> None:
    """Refuse what torch's writer never makes and what would make reading the members unbounded:
    a name listed twice, a compressed member, members claiming more bytes than the file holds."""
    twice = [name for name, count in Counter(i.filename for i in infos).items() if count > 1]
    if twice:
        raise BadTensorFile(f"{path}: its zip directory lists the member {twice[0]} more than once; "
                            f"not a file written by torch.save")
    packed = next((i for i in infos if i.compress_type != zipfile.ZIP_STORED), None)
    if packed is not None:
        raise BadTensorFile(f"{path}: its member {packed.filename} is compressed (method {packed.compress_type}); "
                            f"torch.save stores members uncompressed")
    beyond = next((i for i in infos
                   if i.header_offset + i.compress_size > size or i.file_size != i.compress_size), None)
    if beyond is not None:
        raise BadTensorFile(f"{path}: its member {beyond.filename} claims {beyond.file_size:,} bytes "
                            f"({beyond.compress_size:,} stored) at offset {beyond.header_offset:,}, in a file of "
                            f"{size:,} bytes")
    claimed = sum(i.file_size for i in infos)
    if claimed > size:
        raise BadTensorFile(f"{path}: its members claim {claimed:,} bytes in all, more than the file's {size:,}")


def _directory(path: str, file, size: int, crcs: bool) -> tuple[list[zipfile.ZipInfo], str]:
    """The checked members of the zip ``file`` (opened from ``path``, ``size`` bytes) and its byte order;
    with ``crcs``, every CRC-32 compared."""
    try:
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            infos = archive.infolist()
            _refuse_unusual_members(path, infos, size)
            bad = archive.testzip() if crcs else None
            order = next((archive.read(i) for i in infos if i.filename.split("/")[1:] == [BYTEORDER]), b"little")
    except BadTensorFile:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise BadTensorFile(f"{path}: damaged zip container ({type(err).__name__}: {err})") from None
    if bad is not None:
        raise BadTensorFile(f"{path}: CRC-32 mismatch in its member {bad}: the file is damaged; copy or "
                            "download it again")
    return infos, order.decode("ascii", "replace")


_checked: set[tuple] = set()
"""Files whose CRCs matched in this process, by (path, size, mtime, ctime, inode): each is read once."""


def _check_crcs(path: str, file, st: os.stat_result) -> None:
    """:class:`BadTensorFile` naming ``path`` and the member unless the zip directory of ``file`` (opened
    from ``path``, ``fstat`` ``st``) is as torch writes it and every CRC-32 matches."""
    key = (path, *content_digests.stat_fingerprint(st))
    if key in _checked:
        return
    _directory(path, file, st.st_size, crcs=True)
    _checked.add(key)


def _torch_load(path: str, zipped: bool):
    """The file's object; a zip file's tensors on the ``meta`` device (no data read), a legacy file's in memory."""
    if zipped:
        return torch.load(path, map_location="meta", weights_only=True, mmap=True)
    return torch.load(path, map_location="cpu", weights_only=True)


def _loaded(path: str, zipped: bool):
    try:
        return _torch_load(path, zipped)
    except pickle.UnpicklingError as err:
        found = re.search(r"[^\n]*unsupported [^\n]*", str(err), re.IGNORECASE)
        why = found.group(0).strip() if found else type(err).__name__
        raise BadTensorFile(f"{path}: refused, it holds objects other than tensors ({why})") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise BadTensorFile(f"{path}: not a readable torch tensor file ({type(err).__name__}: {err})") from None


def _check_value(path: str, value, dtype: torch.dtype, shape: tuple[int | None, ...]) -> torch.Tensor:
    """``value`` if it is a plain ``dtype`` tensor of ``shape`` whose rows lie one after another in its
    stored bytes, else the error. An expanded or strided view (a few stored bytes claiming many rows)
    is refused; a leading slice of a larger storage (``x[:n]`` saved as is, as a script that keeps the
    first rows may write) is read from its offset, its rows never more than the file holds."""
    expected = f"a {dtype} tensor of shape {_shape_text(shape)}"
    if not isinstance(value, torch.Tensor) or value.layout != torch.strided or value.is_quantized:
        raise BadTensorFile(f"{path}: expected {expected}, found {_describe(value)}")
    if value.dtype != dtype or value.dim() != len(shape) or any(
        want is not None and have != want for have, want in zip(value.shape, shape)
    ):
        raise BadTensorFile(f"{path}: expected {expected}, found {_describe(value)}")
    needed = (value.storage_offset() + value.numel()) * value.element_size()
    stored = value.untyped_storage().nbytes()
    if not value.is_contiguous() or stored < needed:
        raise BadTensorFile(
            f"{path}: its tensor of shape {list(value.shape)} is a view (strides {list(value.stride())}, offset "
            f"{value.storage_offset()}) of {stored:,} stored bytes, not the {needed:,} bytes of its own rows; "
            f"save a contiguous copy (x.contiguous().clone())"
        )
    return value


class HeldTensor:
    """A tensor file of torch's legacy format, held in memory (that format cannot be read by rows)."""

    def __init__(self, path: str, value: torch.Tensor):
        self.path, self.value = path, value
        self.dtype, self.shape = value.dtype, tuple(value.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def rows(self, indices) -> torch.Tensor:
        return self.value.index_select(0, torch.as_tensor(indices, dtype=torch.int64))

    def read(self) -> torch.Tensor:
        return self.value


def _runs(indices: list[int]) -> list[tuple[int, int, int]]:
    """(position in ``indices``, first row, row count) of each run of consecutive rows."""
    runs = []
    for position, index in enumerate(indices):
        if runs and runs[-1][1] + runs[-1][2] == index:
            runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((position, index, 1))
    return runs


class TensorFile:
    """A checked tensor in a torch zip file, its rows read on demand at the data member's offset.

    Every read first checks that the file is still the one checked (size, modification time, inode) and that
    each row lies within it, so a file truncated or replaced meanwhile is an error naming it and
    the row, never a crash.
    """

    def __init__(self, path: str, meta: torch.Tensor, offset: int, identity: tuple, swap: bool):
        self.path, self.offset, self.identity, self.swap = path, offset, identity, swap
        self.dtype, self.shape = meta.dtype, tuple(meta.shape)
        self.row_bytes = prod(self.shape[1:]) * meta.element_size()

    def __len__(self) -> int:
        return self.shape[0]

    def _changed(self, st: os.stat_result, row: int) -> BadTensorFile:
        return BadTensorFile(f"{self.path}: changed while being read (now {st.st_size:,} bytes, {self.identity[0]:,} "
                             f"when checked), row {row} not read; re-run once the file is complete")

    def rows(self, indices) -> torch.Tensor:
        """The rows ``indices`` (in that order) as a new tensor."""
        indices = [int(i) for i in indices]
        out = torch.empty((len(indices), *self.shape[1:]), dtype=self.dtype)
        if not indices:
            return out
        bad = next((i for i in indices if not 0 <= i < len(self)), None)
        if bad is not None:
            raise IndexError(f"{self.path}: row {bad} out of range for its {len(self)} rows")
        buffer = memoryview(out.view(torch.uint8).numpy()).cast("B")
        # O_NONBLOCK: a FIFO swapped in for the file opens at once, and its other inode is then refused
        with os.fdopen(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK), "rb", buffering=0) as file:
            st = os.fstat(file.fileno())
            if _identity(st) != self.identity:
                raise self._changed(st, indices[0])
            for position, first, count in _runs(indices):
                file.seek(self.offset + first * self.row_bytes)
                self._read_into(file, buffer[position * self.row_bytes : (position + count) * self.row_bytes], first)
        if self.swap:
            out.numpy().byteswap(inplace=True)
        return out

    def _read_into(self, file, target: memoryview, first: int) -> None:
        done = 0
        while done < len(target):
            got = file.readinto(target[done:])
            if not got:
                raise self._changed(os.fstat(file.fileno()), first + done // self.row_bytes)
            done += got

    def read(self) -> torch.Tensor:
        """Every row, in memory."""
        return self.rows(range(len(self)))


def _data_offset(path: str, file, infos: list[zipfile.ZipInfo], nbytes: int, size: int) -> int:
    """Where the bytes of the file's one storage begin; an error unless it holds exactly ``nbytes``."""
    data = [i for i in infos if i.filename.split("/")[1:2] == [DATA_FOLDER]]
    if len(data) != 1 or data[0].file_size != nbytes:
        found = ", ".join(f"{i.filename} ({i.file_size:,} bytes)" for i in data) or "none"
        raise BadTensorFile(f"{path}: expected one data member of {nbytes:,} bytes for its tensor, found {found}")
    file.seek(data[0].header_offset)
    header = file.read(LOCAL_HEADER.size)
    if len(header) != LOCAL_HEADER.size or not header.startswith(LOCAL_SIGNATURE):
        raise BadTensorFile(f"{path}: damaged zip container (no local header for its member {data[0].filename})")
    _signature, name_length, extra_length = LOCAL_HEADER.unpack(header)
    offset = data[0].header_offset + LOCAL_HEADER.size + name_length + extra_length
    if offset + nbytes > size:
        raise BadTensorFile(f"{path}: its member {data[0].filename} ends past the end of the file ({size:,} bytes)")
    return offset


def open_tensor(path: str | os.PathLike, dtype: torch.dtype, shape: tuple[int | None, ...],
                check: bool = True) -> TensorFile | HeldTensor:
    """The tensor file ``path``, checked to hold ``dtype`` with ``shape`` (``None`` matches any size),
    its rows not read yet.

    Raises :class:`BadTensorFile` naming the file for anything else: a CRC mismatch (with ``check``;
    pass False only for a file checked before in this build), not a torch file, objects that
    ``weights_only`` refuses, a dict or list instead of a tensor, another dtype or shape, a view.
    """
    path = os.fspath(path)
    with _opened(path) as file:
        st = os.fstat(file.fileno())
        kind = regular_files.irregular(st.st_mode)
        if kind is not None:
            raise BadTensorFile(f"{path}: {kind}, not a tensor file; not read")
        identity = _identity(st)
        zipped = zipfile.is_zipfile(file)  # only the zip format (torch >= 1.6) can be read by rows
        if not zipped:
            return HeldTensor(path, _check_value(path, _loaded(path, zipped), dtype, shape))
        if check:
            _check_crcs(path, file, st)
        infos, order = _directory(path, file, st.st_size, crcs=False)
        meta = _check_value(path, _loaded(path, zipped), dtype, shape)
        offset = _data_offset(path, file, infos, meta.untyped_storage().nbytes(), identity[0])
    offset += meta.storage_offset() * meta.element_size()
    return TensorFile(path, meta, offset, identity, swap=order != sys.byteorder)


def _opened(path: str):
    """``path`` opened for reading without blocking (a FIFO opens at once and is then refused by its
    ``fstat``); :class:`BadTensorFile` naming it if it cannot be opened."""
    try:
        return os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb")
    except FileNotFoundError:
        raise BadTensorFile(f"{path}: no such file") from None
    except OSError as err:
        raise BadTensorFile(f"{path}: cannot be opened ({err.strerror or err})") from None


def load_tensor(path: str | os.PathLike, dtype: torch.dtype, shape: tuple[int | None, ...],
                check: bool = True) -> torch.Tensor:
    """The whole tensor in ``path``, in memory, checked as :func:`open_tensor` does."""
    return open_tensor(path, dtype, shape, check).read()


def load_release_pair(x_path: str | os.PathLike, y_path: str | os.PathLike, size: int = 64):
    """A release ``X.pt`` (float32 [N, 3, size, size], rows not read) and ``y.pt`` (int64 [N], 0..999,
    in memory), checked together."""
    x = open_tensor(x_path, torch.float32, (None, 3, size, size))
    y = load_tensor(y_path, torch.int64, (None,))
    if len(x) != len(y):
        raise BadTensorFile(f"{x_path} holds {len(x)} images but {y_path} {len(y)} labels")
    if len(y) and (int(y.min()) < 0 or int(y.max()) > 999):
        raise BadTensorFile(f"{y_path}: labels must be clsloc ids - 1 in 0..999, found {int(y.min())}..{int(y.max())}")
    return x, y
