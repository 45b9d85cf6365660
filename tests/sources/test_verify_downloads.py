"""verify-downloads: parts found anywhere below the folder, checked against md5s; problems per generator."""

from __future__ import annotations

import argparse
import hashlib

import pytest

from conversion.commands import verify_downloads as command
from conversion.contract import tables
from conversion.sources import verify_downloads


def test_official_list_is_complete():
    parts = verify_downloads.expected_parts()
    assert len(parts) == sum(len({n for n, _ in g.zip_parts}) for g in tables.generators().values())
    assert parts["imagenet_ai_0419_sdv4.zip"] == ("sdv14", "531fd92856a9e2857da69c5c9f06fa06")
    assert parts["imagenet_ai_0424_sdv5.z26"][0] == "sdv15"  # listed twice in the official file
    assert all(name.startswith(tables.generators()[key].inner_folder + ".") for name, (key, _) in parts.items())


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Three BigGAN parts and two VQDM parts with known contents; the official md5s swapped for theirs."""
    contents = {f"imagenet_ai_0419_biggan.z0{i}": bytes([i]) * (3 * verify_downloads.READ_BYTES // 2 + i)
                for i in (1, 2)}
    contents["imagenet_ai_0419_biggan.zip"] = b"end of biggan"
    contents["imagenet_ai_0419_vqdm.z01"] = b"vqdm one"
    contents["imagenet_ai_0419_vqdm.zip"] = b"vqdm end"
    expected = {name: (name.startswith("imagenet_ai_0419_biggan") and "biggan" or "vqdm",
                       hashlib.md5(data).hexdigest()) for name, data in contents.items()}
    monkeypatch.setattr(verify_downloads, "expected_parts", lambda: expected)
    (tmp_path / "BigGAN").mkdir()
    for name, data in contents.items():
        folder = tmp_path / "BigGAN" if "biggan" in name else tmp_path
        (folder / name).write_bytes(data)
    return tmp_path


def statuses(checks):
    return {(c.generator, c.name, c.status) for c in checks if c.status != verify_downloads.OK}


def test_complete_download_passes(fake_parts, capsys):
    checks = verify_downloads.verify(fake_parts, jobs=3, progress=False)
    assert [c.status for c in checks] == ["ok"] * 5
    args = argparse.Namespace(path=fake_parts, generators=None, jobs=2, no_progress=True)
    assert command.run(args) == 0
    assert "biggan: OK - 3 ok, 0 missing, 0 corrupt, 0 extra" in capsys.readouterr().out


def test_missing_corrupt_and_extra_parts(fake_parts, capsys):
    (fake_parts / "BigGAN" / "imagenet_ai_0419_biggan.z02").unlink()
    with open(fake_parts / "imagenet_ai_0419_vqdm.z01", "r+b") as f:
        f.write(b"X")
    (fake_parts / "imagenet_ai_0419_vqdm.z02").write_bytes(b"not in the list")
    (fake_parts / "copy").mkdir()
    (fake_parts / "copy" / "imagenet_ai_0419_biggan.zip").write_bytes(b"end of biggan")
    (fake_parts / "notes.txt").write_text("ignored")
    checks = verify_downloads.verify(fake_parts, progress=False)
    assert statuses(checks) == {
        ("biggan", "imagenet_ai_0419_biggan.z02", "missing"),
        ("biggan", "imagenet_ai_0419_biggan.zip", "extra"),
        ("vqdm", "imagenet_ai_0419_vqdm.z01", "corrupt"),
        ("vqdm", "imagenet_ai_0419_vqdm.z02", "extra"),
    }
    args = argparse.Namespace(path=fake_parts, generators=None, jobs=2, no_progress=True)
    assert command.run(args) == 1
    out = capsys.readouterr().out
    assert "vqdm: PROBLEMS - 1 ok, 0 missing, 1 corrupt, 1 extra" in out
    assert "  missing: imagenet_ai_0419_biggan.z02" in out


def test_required_generator_without_parts_is_missing(fake_parts):
    checks = verify_downloads.verify(fake_parts, generators=["biggan"], progress=False)
    assert {c.generator for c in checks} == {"biggan"}
    with pytest.raises(ValueError, match="unknown generator"):
        verify_downloads.verify(fake_parts, generators=["dalle"], progress=False)


def test_generators_are_comma_separated_as_in_every_command(fake_parts, capsys):
    from conversion import cli

    for generators, printed in ((["biggan"], ["biggan"]), (["biggan, VQDM"], ["biggan", "vqdm"]),
                                (["vqdm", "biggan,vqdm"], ["biggan", "vqdm"])):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["verify-downloads", str(fake_parts), "--no-progress",
                      *(arg for keys in generators for arg in ("--generators", keys))])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert [line.split(":")[0] for line in out.splitlines() if ": OK - " in line] == printed
    with pytest.raises(SystemExit) as exit_:
        cli.main(["verify-downloads", str(fake_parts), "--generators", "biggan", "vqdm"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith("unrecognized arguments: vqdm")


def test_nothing_to_check(tmp_path):
    with pytest.raises(FileNotFoundError, match="no GenImage zip part"):
        verify_downloads.verify(tmp_path, progress=False)


def test_real_md5_list_reports_every_missing_part(tmp_path):
    (tmp_path / "imagenet_glide.z01").write_bytes(b"truncated download")
    checks = verify_downloads.verify(tmp_path, progress=False)
    glide = tables.generators()["glide"].zip_parts
    assert statuses(checks) == {("glide", "imagenet_glide.z01", "corrupt")} | {
        ("glide", name, "missing") for name, _ in glide if name != "imagenet_glide.z01"}


def test_fifos_dangling_links_and_unreadable_parts_are_reported_never_read(fake_parts, capsys):
    import os
    import threading

    os.unlink(fake_parts / "BigGAN" / "imagenet_ai_0419_biggan.z01")
    os.mkfifo(fake_parts / "BigGAN" / "imagenet_ai_0419_biggan.z01")  # reading it would block forever
    (fake_parts / "imagenet_ai_0419_vqdm.zip").unlink()
    (fake_parts / "imagenet_ai_0419_vqdm.zip").symlink_to(fake_parts / "gone.zip")
    unreadable = fake_parts / "BigGAN" / "imagenet_ai_0419_biggan.zip"
    unreadable.chmod(0)
    found = []
    worker = threading.Thread(target=lambda: found.append(verify_downloads.verify(fake_parts, progress=False)),
                              daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "verify-downloads blocked on a FIFO"
    details = {c.name: (c.status, c.detail) for c in found[0] if c.status != verify_downloads.OK}
    assert details["imagenet_ai_0419_biggan.z01"] == ("unreadable", "a FIFO (named pipe), not a regular file: not read")
    assert details["imagenet_ai_0419_vqdm.zip"] == ("unreadable", f"dangling link to {fake_parts / 'gone.zip'}")
    if os.geteuid() != 0:  # root reads any file
        assert details["imagenet_ai_0419_biggan.zip"] == ("unreadable", "cannot open: Permission denied")
    ok = {c.name for c in found[0] if c.status == verify_downloads.OK}
    assert {"imagenet_ai_0419_biggan.z02", "imagenet_ai_0419_vqdm.z01"} <= ok  # the others are still checked
    args = argparse.Namespace(path=fake_parts, generators=None, jobs=2, no_progress=True)
    assert command.run(args) == 1
    assert "  unreadable: imagenet_ai_0419_biggan.z01" in capsys.readouterr().out
    unreadable.chmod(0o644)


def test_a_read_error_is_that_parts_problem(fake_parts, monkeypatch):
    real = verify_downloads.md5_of

    def failing(path, progress=None):
        if path.name == "imagenet_ai_0419_vqdm.z01":
            raise OSError(5, "Input/output error")
        return real(path, progress)

    monkeypatch.setattr(verify_downloads, "md5_of", failing)
    checks = verify_downloads.verify(fake_parts, progress=False)
    assert statuses(checks) == {("vqdm", "imagenet_ai_0419_vqdm.z01", "unreadable")}
    assert next(c.detail for c in checks if c.status == "unreadable") == "read error: Input/output error"
