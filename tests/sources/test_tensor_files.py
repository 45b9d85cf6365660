"""Release tensors load only through torch.load(weights_only=True) and only as the expected tensor."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from conversion.sources import tensor_files


class Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


@pytest.fixture
def files(tmp_path):
    torch.save(torch.rand(4, 3, 64, 64), tmp_path / "X.pt")
    torch.save(torch.tensor([0, 5, 999, 64]), tmp_path / "y.pt")
    return tmp_path


def test_good_pair_loads(files):
    x, y = tensor_files.load_release_pair(files / "X.pt", files / "y.pt")
    assert x.shape == (4, 3, 64, 64) and x.dtype == torch.float32 and y.tolist() == [0, 5, 999, 64]


def test_legacy_format_loads(tmp_path):
    torch.save(torch.zeros(2, 3, 64, 64), tmp_path / "X.pt", _use_new_zipfile_serialization=False)
    assert tensor_files.load_tensor(tmp_path / "X.pt", torch.float32, (None, 3, 64, 64)).shape == (2, 3, 64, 64)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("how", ["torch.save", "pickle.dump"])
def test_code_in_a_file_is_refused_and_never_run(tmp_path, monkeypatch, how):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "X.pt"
    if how == "torch.save":
        torch.save(Payload(), path)
    else:
        with open(path, "wb") as f:
            pickle.dump(Payload(), f)
    with pytest.raises(tensor_files.BadTensorFile, match="refused, it holds objects other than tensors"):
        tensor_files.load_tensor(path, torch.float32, (None, 3, 64, 64))
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    "value, found",
    [
        ({"X": torch.zeros(2, 3, 64, 64)}, "found a dict"),
        ([torch.zeros(2, 3, 64, 64)], "found a list"),
        (torch.zeros(2, 3, 32, 32), "shape [2, 3, 32, 32]"),
        (torch.zeros(2, 3, 64, 64, dtype=torch.float64), "torch.float64"),
        (torch.zeros(3, 64, 64), "shape [3, 64, 64]"),
        (torch.zeros(2, 3, 64, 64).to_sparse(), "torch.sparse_coo"),
    ],
)
def test_wrong_contents_are_rejected(tmp_path, value, found):
    torch.save(value, tmp_path / "X.pt")
    with pytest.raises(tensor_files.BadTensorFile) as err:
        tensor_files.load_tensor(tmp_path / "X.pt", torch.float32, (None, 3, 64, 64))
    assert str(err.value).startswith(f"{tmp_path / 'X.pt'}: expected a torch.float32 tensor of shape [N, 3, 64, 64]")
    assert found in str(err.value)


@pytest.mark.parametrize("data", [b"", b"hello", b"PK\x03\x04broken zip"])
def test_unreadable_files_are_rejected(tmp_path, data):
    (tmp_path / "X.pt").write_bytes(data)
    with pytest.raises(tensor_files.BadTensorFile, match="not a readable torch tensor file"):
        tensor_files.load_tensor(tmp_path / "X.pt", torch.float32, (None, 3, 64, 64))
    with pytest.raises(tensor_files.BadTensorFile, match="no such file"):
        tensor_files.load_tensor(tmp_path / "nothing.pt", torch.float32, (None,))


def test_pair_must_match(files):
    torch.save(torch.tensor([0, 1]), files / "short.pt")
    with pytest.raises(tensor_files.BadTensorFile, match="holds 4 images but .* 2 labels"):
        tensor_files.load_release_pair(files / "X.pt", files / "short.pt")
    torch.save(torch.tensor([0, 1, 2, 1000]), files / "big.pt")
    with pytest.raises(tensor_files.BadTensorFile, match="0..999, found 0..1000"):
        tensor_files.load_release_pair(files / "X.pt", files / "big.pt")
    torch.save(torch.tensor([0, 1, 2, 3], dtype=torch.int32), files / "int32.pt")
    with pytest.raises(tensor_files.BadTensorFile, match="expected a torch.int64 tensor"):
        tensor_files.load_release_pair(files / "X.pt", files / "int32.pt")


def test_a_flipped_bit_is_refused_naming_the_file_and_member(files):
    y = torch.tensor([0, 5, 999, 64])
    data = bytearray((files / "y.pt").read_bytes())
    at = bytes(data).index(y.numpy().tobytes()) + 8  # the second label, 5
    data[at] ^= 0x02  # 5 -> 7: still a valid label
    (files / "y.pt").write_bytes(bytes(data))
    assert tensor_files.load_tensor(files / "y.pt", torch.int64, (None,), check=False).tolist() == [0, 7, 999, 64]
    with pytest.raises(tensor_files.BadTensorFile, match=r"y\.pt: CRC-32 mismatch in its member y/data/0"):
        tensor_files.load_release_pair(files / "X.pt", files / "y.pt")


def test_a_damaged_zip_directory_is_refused(files):
    data = (files / "X.pt").read_bytes()
    (files / "X.pt").write_bytes(data[:-30] + b"\x00" * 30)  # end of the central directory overwritten
    with pytest.raises(tensor_files.BadTensorFile, match=r"X\.pt: "):
        tensor_files.load_tensor(files / "X.pt", torch.float32, (None, 3, 64, 64))


def _append_members(path, count: int, name: str, data: bytes, method: int) -> None:
    import warnings
    import zipfile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of duplicate names
        with zipfile.ZipFile(path, "a", compression=method) as archive:
            for _ in range(count):
                archive.writestr(name, data)


def _list_member_again(path, member: str, names: list[str]) -> None:
    """Add central directory entries that point at ``member``'s bytes under other names (of its length; the
    zip has no zip64 records)."""
    import struct

    data = path.read_bytes()
    end = data.rindex(b"PK\x05\x06")
    entries, size, start = struct.unpack("<HII", data[end + 10 : end + 20])
    directory = data[start : start + size]
    at = 0
    while True:
        name_length, extra_length, comment_length = struct.unpack("<HHH", directory[at + 28 : at + 34])
        length = 46 + name_length + extra_length + comment_length
        if directory[at + 46 : at + 46 + name_length] == member.encode():
            entry = directory[at : at + length]
            break
        at += length
    extra = b"".join(entry[:46] + n.encode() + entry[46 + name_length :] for n in names)
    directory += extra
    tail = data[end:end + 8] + struct.pack("<HHII", entries + len(names), entries + len(names), len(directory),
                                           start) + data[end + 20 :]
    path.write_bytes(data[:start] + directory + tail)


def test_a_zip_bomb_is_refused_before_any_member_is_read(files):
    """Duplicate names, compressed members and members claiming more than the file holds are refused from
    the zip directory alone, before the CRC check would inflate or re-read them."""
    import zipfile

    cases = {
        "twice": (lambda p: _append_members(p, 3, "X/pad", bytes(20_000_000), zipfile.ZIP_DEFLATED),
                  r"X\.pt: its zip directory lists the member X/pad more than once; not a file written by torch.save"),
        "deflated": (lambda p: _append_members(p, 1, "X/pad", bytes(20_000_000), zipfile.ZIP_DEFLATED),
                     r"X\.pt: its member X/pad is compressed \(method 8\); torch.save stores members uncompressed"),
        "listed again": (lambda p: _list_member_again(p, "X/data/0", [f"X/copy/{i}" for i in range(4)]),
                         r"X\.pt: its members claim [0-9,]+ bytes in all, more than the file's [0-9,]+$"),
    }
    original = (files / "X.pt").read_bytes()
    for change, message in cases.values():
        (files / "X.pt").write_bytes(original)
        change(files / "X.pt")
        assert (files / "X.pt").stat().st_size < len(original) + 100_000  # 60 MB of members claimed
        with pytest.raises(tensor_files.BadTensorFile, match=message):
            tensor_files.load_tensor(files / "X.pt", torch.float32, (None, 3, 64, 64))


def test_an_expanded_view_is_refused_naming_the_file(tmp_path):
    """X.pt and y.pt of x[:1].expand(10**7, ...): 49 KB on disk, 10**7 rows claimed; refused in one line."""
    torch.save(torch.rand(1, 3, 64, 64).expand(10**7, 3, 64, 64), tmp_path / "X.pt")
    torch.save(torch.zeros(1, dtype=torch.int64).expand(10**7), tmp_path / "y.pt")
    with pytest.raises(tensor_files.BadTensorFile) as err:
        tensor_files.load_release_pair(tmp_path / "X.pt", tmp_path / "y.pt")
    assert str(err.value) == (
        f"{tmp_path / 'X.pt'}: its tensor of shape [10000000, 3, 64, 64] is a view (strides [0, 4096, 64, 1], "
        f"offset 0) of 49,152 stored bytes, not the 491,520,000,000 bytes of its own rows; save a contiguous copy "
        f"(x.contiguous().clone())"
    )
    with pytest.raises(tensor_files.BadTensorFile, match=r"y\.pt: its tensor of shape \[10000000\] is a view"):
        tensor_files.load_tensor(tmp_path / "y.pt", torch.int64, (None,))
    torch.save(torch.zeros(10, 3, 64, 64)[::2], tmp_path / "strided.pt")
    with pytest.raises(tensor_files.BadTensorFile, match=r"strided.pt: its tensor of shape \[5, 3, 64, 64\] is a view"):
        tensor_files.open_tensor(tmp_path / "strided.pt", torch.float32, (None, 3, 64, 64))


@pytest.mark.parametrize("rows", [slice(0, 7), slice(5, 10), slice(3, 4)])
def test_a_saved_slice_of_a_larger_tensor_reads_its_own_rows(tmp_path, rows):
    """torch.save(x[:n]) stores all of x's rows: a script keeping the first rows may write such a file."""
    x = torch.rand(10, 3, 64, 64)
    torch.save(x[rows], tmp_path / "X.pt")
    opened = tensor_files.open_tensor(tmp_path / "X.pt", torch.float32, (None, 3, 64, 64))
    assert torch.equal(opened.read(), x[rows]) and torch.equal(opened.rows([0]), x[rows][:1])


def test_rows_are_read_by_file_reads_and_a_truncated_file_is_a_named_error(tmp_path):
    x = torch.rand(5, 3, 64, 64)
    torch.save(x, tmp_path / "X.pt")
    opened = tensor_files.open_tensor(tmp_path / "X.pt", torch.float32, (None, 3, 64, 64))
    assert len(opened) == 5 and opened.shape == (5, 3, 64, 64)
    assert torch.equal(opened.rows([4, 0, 1, 2]), x[[4, 0, 1, 2]])
    assert torch.equal(opened.read(), x)
    os.truncate(tmp_path / "X.pt", 3000)
    with pytest.raises(tensor_files.BadTensorFile, match=rf"^{tmp_path / 'X.pt'}: changed while being read \(now "
                                                         rf"3,000 bytes, [0-9,]+ when checked\), row 3 not read"):
        opened.rows([3, 4])


def test_a_short_read_is_a_named_error(tmp_path, monkeypatch):
    """A file truncated during the read itself (its size checked just before) gives the same one line."""
    torch.save(torch.rand(5, 3, 64, 64), tmp_path / "X.pt")
    opened = tensor_files.open_tensor(tmp_path / "X.pt", torch.float32, (None, 3, 64, 64))
    real_fstat = os.fstat
    checked = []

    def fstat_then_truncate(fd):
        st = real_fstat(fd)
        if not checked:
            checked.append(fd)
            os.truncate(tmp_path / "X.pt", opened.offset + 2 * opened.row_bytes + 10)
        return st

    monkeypatch.setattr(tensor_files.os, "fstat", fstat_then_truncate)
    with pytest.raises(tensor_files.BadTensorFile, match=r"X\.pt: changed while being read .* row 2 not read"):
        opened.rows([0, 1, 2, 3])


def test_a_member_claiming_more_than_the_file_holds_is_refused(files):
    """A central directory entry whose sizes were raised past the end of the file."""
    import struct

    path = files / "X.pt"
    data = bytearray(path.read_bytes())
    start = struct.unpack("<I", data[data.rindex(b"PK\x05\x06") + 16 :][:4])[0]
    entry = data.index(b"PK\x01\x02", start)
    while data[entry + 46 : entry + 54] != b"X/data/0":
        entry = data.index(b"PK\x01\x02", entry + 4)
    data[entry + 20 : entry + 28] = struct.pack("<II", 10**9, 10**9)  # compressed and uncompressed sizes
    path.write_bytes(bytes(data))
    with pytest.raises(tensor_files.BadTensorFile, match=r"X\.pt: its member X/data/0 claims 1,000,000,000 bytes "
                                                         r"\(1,000,000,000 stored\) at offset [0-9,]+, in a file of"):
        tensor_files.load_tensor(path, torch.float32, (None, 3, 64, 64))


def test_a_fifo_swapped_in_for_an_opened_file_is_an_error_not_a_hang(tmp_path):
    torch.save(torch.rand(3, 3, 64, 64), tmp_path / "X.pt")
    opened = tensor_files.open_tensor(tmp_path / "X.pt", torch.float32, (None, 3, 64, 64))
    (tmp_path / "X.pt").unlink()
    os.mkfifo(tmp_path / "X.pt")
    with pytest.raises(tensor_files.BadTensorFile, match=r"X\.pt: changed while being read \(now 0 bytes"):
        opened.rows([0])
