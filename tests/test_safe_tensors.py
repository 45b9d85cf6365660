"""Release tensors load only through torch.load(weights_only=True) and only as the expected tensor."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from conversion import safe_tensors


class Payload:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


@pytest.fixture
def files(tmp_path):
    torch.save(torch.rand(4, 3, 64, 64), tmp_path / "X.pt")
    torch.save(torch.tensor([0, 5, 999, 64]), tmp_path / "y.pt")
    return tmp_path


def test_good_pair_loads(files):
    x, y = safe_tensors.load_release_pair(files / "X.pt", files / "y.pt")
    assert x.shape == (4, 3, 64, 64) and x.dtype == torch.float32 and y.tolist() == [0, 5, 999, 64]


def test_legacy_format_loads(tmp_path):
    torch.save(torch.zeros(2, 3, 64, 64), tmp_path / "X.pt", _use_new_zipfile_serialization=False)
    assert safe_tensors.load_tensor(tmp_path / "X.pt", torch.float32, (None, 3, 64, 64)).shape == (2, 3, 64, 64)


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
    with pytest.raises(safe_tensors.BadTensorFile, match="refused, it holds objects other than tensors"):
        safe_tensors.load_tensor(path, torch.float32, (None, 3, 64, 64))
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
    with pytest.raises(safe_tensors.BadTensorFile) as err:
        safe_tensors.load_tensor(tmp_path / "X.pt", torch.float32, (None, 3, 64, 64))
    assert str(err.value).startswith(f"{tmp_path / 'X.pt'}: expected a torch.float32 tensor of shape [N, 3, 64, 64]")
    assert found in str(err.value)


@pytest.mark.parametrize("data", [b"", b"hello", b"PK\x03\x04broken zip"])
def test_unreadable_files_are_rejected(tmp_path, data):
    (tmp_path / "X.pt").write_bytes(data)
    with pytest.raises(safe_tensors.BadTensorFile, match="not a readable torch tensor file"):
        safe_tensors.load_tensor(tmp_path / "X.pt", torch.float32, (None, 3, 64, 64))
    with pytest.raises(safe_tensors.BadTensorFile, match="no such file"):
        safe_tensors.load_tensor(tmp_path / "nothing.pt", torch.float32, (None,))


def test_pair_must_match(files):
    torch.save(torch.tensor([0, 1]), files / "short.pt")
    with pytest.raises(safe_tensors.BadTensorFile, match="holds 4 images but .* 2 labels"):
        safe_tensors.load_release_pair(files / "X.pt", files / "short.pt")
    torch.save(torch.tensor([0, 1, 2, 1000]), files / "big.pt")
    with pytest.raises(safe_tensors.BadTensorFile, match="0..999, found 0..1000"):
        safe_tensors.load_release_pair(files / "X.pt", files / "big.pt")
    torch.save(torch.tensor([0, 1, 2, 3], dtype=torch.int32), files / "int32.pt")
    with pytest.raises(safe_tensors.BadTensorFile, match="expected a torch.int64 tensor"):
        safe_tensors.load_release_pair(files / "X.pt", files / "int32.pt")


def test_a_flipped_bit_is_refused_naming_the_file_and_member(files):
    y = torch.tensor([0, 5, 999, 64])
    data = bytearray((files / "y.pt").read_bytes())
    at = bytes(data).index(y.numpy().tobytes()) + 8  # the second label, 5
    data[at] ^= 0x02  # 5 -> 7: still a valid label
    (files / "y.pt").write_bytes(bytes(data))
    assert safe_tensors.load_tensor(files / "y.pt", torch.int64, (None,), check=False).tolist() == [0, 7, 999, 64]
    with pytest.raises(safe_tensors.BadTensorFile, match=r"y\.pt: CRC-32 mismatch in its member y/data/0"):
        safe_tensors.load_release_pair(files / "X.pt", files / "y.pt")


def test_a_damaged_zip_directory_is_refused(files):
    data = (files / "X.pt").read_bytes()
    (files / "X.pt").write_bytes(data[:-30] + b"\x00" * 30)  # end of the central directory overwritten
    with pytest.raises(safe_tensors.BadTensorFile, match=r"X\.pt: "):
        safe_tensors.load_tensor(files / "X.pt", torch.float32, (None, 3, 64, 64))
