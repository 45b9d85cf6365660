"""A folder of the tree that cannot be read is named in one line, never taken for a missing folder or file."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conversion import cli
from conversion.contract import tables
from conversion.samples import genimage_tree
from conversion.sources import kinds

REPO = Path(__file__).resolve().parents[2]
GENERATOR = tables.generators()["sdv14"]
BUILD = ["publish", "--part", "sdv14-task2", "--image-size", "original", "--check", "none"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return genimage_tree.make_sample_tree(tmp_path_factory.mktemp("unreadable") / "GenImage", generators=["sdv14"],
                                        classes_per_task=1)


def generator_folder(tree: Path) -> Path:
    return genimage_tree.generator_folder(tree, GENERATOR, "nested")


def denied(path) -> PermissionError:
    return PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))


def mode_000(monkeypatch, folder: Path) -> None:
    """What a user without root sees for ``chmod 000 folder``: it cannot be listed, nor anything in it reached."""
    listdir, scandir, stat = os.listdir, os.scandir, os.stat
    inside = str(folder) + os.sep

    def guarded(real, refused):
        def call(path=".", *args, **kwargs):
            if isinstance(path, (str, bytes, os.PathLike)) and refused(os.fsdecode(path)):
                raise denied(path)
            return real(path, *args, **kwargs)
        return call

    monkeypatch.setattr(os, "listdir", guarded(listdir, lambda path: path == str(folder)))
    monkeypatch.setattr(os, "scandir", guarded(scandir, lambda path: path == str(folder)))
    monkeypatch.setattr(os, "stat", guarded(stat, lambda path: path.startswith(inside)))


@pytest.mark.parametrize("relative", ["train/ai", "train", "."])
def test_an_unreadable_folder_is_named(tree, tmp_path, monkeypatch, capsys, relative):
    """``train/ai/`` was reported as ``Permission denied: .../train/ai/X.pt`` (a file that does not exist), and an
    unreadable generator folder as 'found no generator folder'."""
    folder = (generator_folder(tree) / relative).resolve()
    mode_000(monkeypatch, folder)
    with pytest.raises(SystemExit):
        cli.main([*BUILD, "--data-dir", str(tree), "--out", str(tmp_path / "out")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1] == f"error: cannot read folder {str(folder)!r}: permission denied"
    assert not any("X.pt" in line or "no generator folder" in line for line in lines)


def test_another_generators_unreadable_folder_does_not_stop_a_build(tmp_path, monkeypatch):
    root = tmp_path / "GenImage"
    genimage_tree.make_sample_tree(root, generators=["sdv14", "adm"], classes_per_task=1)
    mode_000(monkeypatch, genimage_tree.generator_folder(root, tables.generators()["adm"], "nested"))
    assert kinds.open_source(root, ["sdv14"]).kind == kinds.RAW_TREE
    assert kinds.open_source(root, ["sdv14"]).listing.count() > 0


@pytest.mark.skipif(sys.platform != "linux", reason="needs Linux permissions (and setpriv when run as root)")
@pytest.mark.parametrize("relative", ["train/ai", "."])
def test_chmod_000_as_a_user_sees_it(tree, tmp_path, relative):
    """The real thing: a process without the capability to bypass permissions (root drops it with setpriv)."""
    copy = tmp_path / "GenImage"
    shutil.copytree(tree, copy, symlinks=True)
    folder = generator_folder(copy) / relative
    drop = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: permissions cannot be enforced")
        drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    folder.chmod(0)
    try:
        result = subprocess.run([*drop, sys.executable, "-m", "conversion", *BUILD, "--data-dir", str(copy),
                                 "--out", str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True,
                                timeout=300)
    finally:
        folder.chmod(0o755)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot read folder {str(folder.resolve())!r}: permission denied")
