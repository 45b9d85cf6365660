"""Atomic writes: a failure mid-write leaves the old file as it was and no temporary behind."""

from __future__ import annotations

import json
import os

import pytest

from conversion import atomic_files


class Stop(Exception):
    pass


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if atomic_files.TEMPORARY.fullmatch(p.name)]


def test_a_failure_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("old\n")
    with pytest.raises(Stop):
        with atomic_files.writing(path) as file:
            file.write("half of the new")
            file.flush()
            assert _leftovers(tmp_path)  # written beside the file, under a temporary name
            raise Stop
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.csv"]


def test_an_interrupt_inside_replacing_removes_the_temporary(tmp_path):
    path = tmp_path / "figure.png"
    path.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_files.replacing(path) as tmp:
            tmp.write_bytes(b"new, partly")
            raise KeyboardInterrupt
    assert path.read_bytes() == b"old" and not _leftovers(tmp_path)


def test_a_failing_serialisation_writes_nothing(tmp_path):
    path = tmp_path / "record.json"
    path.write_text("[1]")
    with pytest.raises(TypeError):
        atomic_files.write_json(path, {"not json": object()})
    assert path.read_text() == "[1]" and not _leftovers(tmp_path)


def test_writes_replace_the_file_whole(tmp_path):
    path = tmp_path / "out.json"
    atomic_files.write_json(path, {"b": 1, "a": [2]}, indent=1, sort_keys=True)
    assert path.read_text() == json.dumps({"a": [2], "b": 1}, indent=1, sort_keys=True)
    atomic_files.write_text(path, "é\n")
    assert path.read_bytes() == "é\n".encode()
    atomic_files.write_bytes(path, b"\x00\x01", sync=False)
    assert path.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_the_temporary_name_is_short_hidden_and_one_per_name(tmp_path):
    long_name = tmp_path / ("x" * 255)
    tmp = atomic_files.temporary_path(long_name)
    assert tmp.parent == tmp_path and tmp == atomic_files.temporary_path(long_name)
    assert tmp != atomic_files.temporary_path(tmp_path / ("x" * 254))
    assert tmp.name.startswith(".") and len(tmp.name) < 64 and atomic_files.TEMPORARY.fullmatch(tmp.name)
    atomic_files.write_bytes(long_name, b"fits")
    assert long_name.read_bytes() == b"fits"


def test_a_killed_runs_leftover_is_replaced_never_written_through(tmp_path):
    source = tmp_path / "source.png"
    source.write_bytes(b"source bytes")
    path = tmp_path / "copy.png"
    os.link(source, atomic_files.temporary_path(path))  # a hard link a killed run left at the temporary name
    atomic_files.write_bytes(path, b"new")
    assert path.read_bytes() == b"new" and source.read_bytes() == b"source bytes"
    assert not _leftovers(tmp_path)
