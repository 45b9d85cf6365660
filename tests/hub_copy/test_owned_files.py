"""A run deletes or replaces only files that a run of ours recorded writing; paths are plain local paths."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conversion import local_paths
from conversion.hub_copy import owned_files, publish
from conversion.samples import tensor_release as release_writer
from conversion.sources import kinds

REPO = Path(__file__).resolve().parents[2]


def _cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conversion", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def one_generator(sample_root, tmp_path) -> Path:
    """sdv14's generator folder alone, as a user copies one generator."""
    root = tmp_path / "one"
    shutil.copytree(sample_root / "stable_diffusion_v_1_4", root / "stable_diffusion_v_1_4")
    return root


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines and (lines[-1].startswith("error: ") or ": error: " in lines[-1]), result.stderr
    return lines[-1]


def test_a_raw_tree_inside_out_is_refused_and_kept(one_generator, tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(one_generator, project / "data" / "GenImage")
    before = _files(project)
    result = _cli("publish", "--data-dir", "data/GenImage", "--out", ".", cwd=project)
    line = _one_line_error(result)
    assert f"--data-dir {project / 'data' / 'GenImage'} lies inside --out {project}" in line
    assert _files(project) == before and not (project / publish.STATE_DIR).exists()


def test_a_tensor_release_inside_out_is_refused_and_kept(small_release_copy, tmp_path):
    project = tmp_path / "proj"
    shutil.copytree(small_release_copy, project / "data" / "release")
    before = _files(project)
    line = _one_line_error(_cli("publish", "--data-dir", "data/release", "--out", ".", cwd=project))
    assert "lies inside --out" in line
    assert _files(project) == before


def test_out_inside_the_source_is_refused(one_generator, tmp_path):
    before = _files(one_generator)
    line = _one_line_error(_cli("publish", "--data-dir", str(one_generator), "--out",
                                str(one_generator / "copy"), cwd=tmp_path))
    assert f"--out {one_generator / 'copy'} lies inside --data-dir {one_generator}" in line
    assert _files(one_generator) == before


def test_a_link_to_the_source_inside_out_is_refused(one_generator, tmp_path):
    out = tmp_path / "out"
    (out / "data").mkdir(parents=True)
    (out / "data" / "GenImage").symlink_to(one_generator)
    line = _one_line_error(_cli("publish", "--data-dir", str(out / "data" / "GenImage"), "--out", str(out),
                                cwd=tmp_path))
    assert "lies inside --out" in line
    assert _files(one_generator) and (out / "data" / "GenImage").is_symlink()


def test_files_publish_did_not_write_stop_it_before_any_work(small_release_copy, tmp_path):
    out = tmp_path / "clone"
    (out / "data" / "sdv14" / "task0").mkdir(parents=True)
    (out / "data" / "sdv14" / "task0" / "train-00000-of-00001.parquet").write_bytes(b"someone's shard")
    (out / "README.md").write_text("my own card")
    before = _files(out)
    with pytest.raises(owned_files.ForeignFiles, match="README.md, data/sdv14/task0/train-00000-of-00001.parquet "
                                                       "not written by genimage-cl"):
        publish.build_mirror(kinds.open_source(small_release_copy), out, log=lambda line: None)
    assert {k: v for k, v in _files(out).items() if not k.startswith(publish.STATE_DIR)} == before


def test_a_part_job_refuses_foreign_files_in_its_part(small_release_copy, tmp_path):
    out = tmp_path / "copy"
    (out / "data" / "sdv14" / "task0-rotate").mkdir(parents=True)
    (out / "data" / "sdv14" / "task0-rotate" / "notes.txt").write_text("mine")
    with pytest.raises(owned_files.ForeignFiles, match="data/sdv14/task0-rotate/notes.txt"):
        publish.build_parts_only(kinds.open_source(small_release_copy), out, ["sdv14-task0"], log=lambda line: None)
    assert (out / "data" / "sdv14" / "task0-rotate" / "notes.txt").read_text() == "mine"


@pytest.fixture(scope="module")
def small_release_copy(sample_release, tmp_path_factory) -> Path:
    """sdv14 task 0 and task 1 of the sample release."""
    root = tmp_path_factory.mktemp("owned") / "release"
    for task in (0, 1):
        for split in ("train", "test"):
            for source in ("nature", "ai"):
                shutil.copytree(release_writer.release_folder(sample_release, "original", "sdv14", task, split, source),
                                release_writer.release_folder(root, "original", "sdv14", task, split, source))
    return root


def test_stale_removal_deletes_only_recorded_files(small_release_copy, tmp_path):
    out = tmp_path / "copy"
    mirror = publish.build_mirror(kinds.open_source(small_release_copy), out, log=lambda line: None)
    users = out / "data" / "sdv14" / "task0" / "notes.txt"
    users.write_text("a file no run wrote")
    stale = out / "data" / "sdv14" / "task1" / "train-00009-of-00010.parquet"
    publish.records(out).claim("sdv14-task1", [stale.relative_to(out).as_posix()])
    stale.write_bytes(b"an old shard of ours")
    removed = publish.remove_stale_files(out, mirror.parts)
    assert removed == [stale.relative_to(out).as_posix()] and not stale.exists()
    assert users.read_text() == "a file no run wrote"


def test_a_folder_published_before_records_is_adopted(small_release_copy, tmp_path):
    out = tmp_path / "copy"
    publish.build_mirror(kinds.open_source(small_release_copy), out, log=lambda line: None)
    shutil.rmtree(out / publish.STATE_DIR / owned_files.RECORDS_DIR)
    again = publish.build_mirror(kinds.open_source(small_release_copy), out, max_shard_size="20KB",
                                 log=lambda line: None)
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / "data").rglob("*") if p.is_file())
    assert on_disk == sorted(f["path"] for p in again.parts for f in p.all_files())


@pytest.mark.parametrize("command", [
    ("publish", "--data-dir", "{src}", "--out", "{o}/victim::copy"),
    ("publish", "--data-dir", "{src}", "--out", "{o}/victim::copy", "--job-index", "0"),
    ("export-imagefolder", "--data-dir", "{src}", "--out", "{o}/victim::copy", "--config", "sdv14-task2"),
    ("publish", "--data-dir", "{o}/victim::x", "--out", "{o}/fine"),
    ("publish", "--data-dir", "{src}", "--out", "memory://{o}/victim"),
    ("report", "file://{o}/victim"),
])
def test_paths_fsspec_would_not_treat_as_local_are_refused(one_generator, tmp_path, command):
    victim = tmp_path / "o" / "victim"
    victim.mkdir(parents=True)
    (victim / "thesis.tex").write_text("years of work")
    args = [part.format(src=one_generator, o=tmp_path / "o") for part in command]
    line = _one_line_error(_cli(*args, cwd=tmp_path))
    assert "is not allowed in a path" in line or "a URL; give a local folder" in line
    assert _files(victim) == {"thesis.tex": b"years of work"}
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["victim"]


def test_the_builder_refuses_a_cache_dir_fsspec_would_chain(one_generator, tmp_path):
    from genimage_cl import GenImageCL

    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("x")
    with pytest.raises(local_paths.BadPath, match="cache_dir '.*victim::c': '::' is not allowed in a path"):
        GenImageCL(config_name="sdv14-task2", data_dir=str(one_generator), cache_dir=f"{victim}::c")
    with pytest.raises(local_paths.BadPath, match="data_dir 's3://bucket/GenImage': a URL"):
        GenImageCL(config_name="sdv14-task2", data_dir="s3://bucket/GenImage")
    assert _files(victim) == {"keep.txt": b"x"}


def test_tilde_means_home_for_every_path_argument(one_generator, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copytree(one_generator, home / "GenImage")
    work = tmp_path / "work"
    work.mkdir()
    env = {"HOME": str(home)}
    missing = _cli("report", "~/cache", cwd=work, env=env)
    assert str(home / "cache") in missing.stderr
    export = _cli("export-imagefolder", "--data-dir", "~/GenImage", "--config", "sdv14-task2", "--split", "test",
                  "--out", "~/exp", "--cache-dir", "~/hf", cwd=work, env=env)
    assert export.returncode == 0, export.stderr
    assert (home / "exp").is_dir() and (home / "hf").is_dir()
    assert not (work / "~").exists()
    builder_env = {**env, "PYTHONPATH": str(REPO)}
    code = ("from genimage_cl import GenImageCL; b = GenImageCL(config_name='sdv14-task2', data_dir='~/GenImage', "
            "cache_dir='~/hf2'); print(b.config.data_dir, b.cache_dir)")
    shown = subprocess.run([sys.executable, "-c", code], cwd=work, capture_output=True, text=True, timeout=300,
                           env={**os.environ, **builder_env})
    assert shown.returncode == 0, shown.stderr
    data_dir, cache_dir = shown.stdout.split()
    assert data_dir == str(home / "GenImage") and cache_dir.startswith(str(home / "hf2"))


def test_a_bad_data_dir_leaves_nothing_in_out(tmp_path):
    out = tmp_path / "pubout"
    out.mkdir()
    line = _one_line_error(_cli("publish", "--data-dir", str(tmp_path / "GenImgae"), "--out", str(out), cwd=tmp_path))
    assert "GenImgae" in line and "is not a directory" in line
    assert list(out.iterdir()) == []
    part = _cli("publish", "--data-dir", str(tmp_path / "GenImgae"), "--out", str(tmp_path / "o2"), "--job-index", "0",
                cwd=tmp_path)
    assert part.returncode == 1 and not (tmp_path / "o2").exists()


def test_a_full_disk_names_the_folder(one_generator, tmp_path, monkeypatch, capsys):
    from conversion import cli

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publish, "build_mirror", full_disk)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["publish", "--data-dir", str(one_generator), "--out", str(tmp_path / "copy")])
    assert exit_.value.code == 1
    assert capsys.readouterr().err == (f"error: No space left on device ([Errno 28]) while publish was working in "
                                       f"{tmp_path / 'copy'}: free space there or choose another folder\n")


@pytest.mark.parametrize("header, key", [
    ("configs:\n- data_files: x\n  config_name: [a]\n", "configs[0].config_name: expected a str, found a list"),
    ("configs: 5\n", "configs: expected a list, found an int"),
    ("configs:\n- config_name: a\n  data_files:\n  - split: train\n    path: 7\n",
     "configs[0] (a).data_files[0].path: expected a str or list, found an int"),
    ("dataset_info:\n- config_name: a\n  splits:\n  - name: train\n    num_examples: many\n",
     "dataset_info[0] (a).splits[0].num_examples: expected an int, found a str"),
    ("dataset_info: [[1]]\n", "dataset_info[0]: expected a dict, found a list"),
])
def test_a_malformed_card_is_one_problem_naming_the_card_and_key(small_release_copy, tmp_path, header, key):
    out = tmp_path / "copy"
    publish.build_mirror(kinds.open_source(small_release_copy), out, log=lambda line: None)
    (out / "README.md").write_text(f"---\n{header}---\n# card\n")
    result = _cli("verify-copy", str(out), "--no-progress", cwd=tmp_path)
    assert result.returncode == 1
    assert f"  problem: {out / 'README.md'}: {key}" in result.stdout.splitlines()


def test_a_hostile_record_deletes_nothing(tmp_path):
    out = tmp_path / "copy"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "thesis.tex").write_text("x")
    records = owned_files.Records(out, publish.STATE_DIR)
    records.dir.mkdir(parents=True)
    (records.dir / "sdv14-task0.json").write_text('["../victim/thesis.tex"]')
    with pytest.raises(owned_files.DamagedRecord, match="sdv14-task0.json: not a list of paths inside"):
        publish.remove_stale_files(out, [])
    (records.dir / "sdv14-task0.json").write_text('["data/thesis.tex"]')
    (out / "data").symlink_to(victim)
    with pytest.raises(owned_files.DamagedRecord, match="leads out of"):
        publish.remove_stale_files(out, [])
    assert (victim / "thesis.tex").read_text() == "x"


def test_a_data_folder_linked_elsewhere_is_foreign_and_not_walked(small_release_copy, tmp_path):
    out = tmp_path / "copy"
    out.mkdir()
    (out / "data").symlink_to("/")
    with pytest.raises(owned_files.ForeignFiles, match=r"copy: data not written by genimage-cl"):
        publish.build_mirror(kinds.open_source(small_release_copy), out, log=lambda line: None)
    assert (out / "data").is_symlink()


@pytest.mark.parametrize("out, message", [
    ("{src}", "--data-dir and --out are the same folder ({src})"),
    ("{tmp}/afile", "--out {tmp}/afile exists and is not a folder"),
])
def test_an_out_that_cannot_be_a_copy_is_refused(one_generator, tmp_path, out, message):
    (tmp_path / "afile").write_text("mine")
    values = {"src": one_generator, "tmp": tmp_path}
    line = _one_line_error(_cli("publish", "--data-dir", str(one_generator), "--out", out.format(**values),
                                cwd=tmp_path))
    assert line == f"error: {message.format(**values)}: give an --out outside the source" or \
        line == f"error: {message.format(**values)}"
    assert (tmp_path / "afile").read_text() == "mine" and not (one_generator / publish.STATE_DIR).exists()


def _quiet(line: str) -> None:
    pass


def test_part_jobs_replace_only_the_shards_they_recorded(one_generator, tmp_path):
    out = tmp_path / "b"
    (first,) = publish.build_parts_only(kinds.open_source(one_generator), out, ["sdv14-task2"], max_shard_size="1KB",
                                        log=_quiet)
    assert len(first.splits["test"]["files"]) > 1
    publish.build_parts_only(kinds.open_source(one_generator), out, ["sdv14-task2"], log=_quiet)
    folder = out / "data" / "sdv14" / "task2"
    assert sorted(p.name for p in folder.iterdir()) == ["test-00000-of-00001.parquet", "train-00000-of-00001.parquet"]
    mine = folder / "test-00000-of-00002.parquet"
    mine.write_bytes(b"not a job's")
    with pytest.raises(owned_files.ForeignFiles, match="data/sdv14/task2/test-00000-of-00002.parquet not written"):
        publish.build_parts_only(kinds.open_source(one_generator), out, ["sdv14-task2"], log=_quiet)
    assert mine.read_bytes() == b"not a job's"


def test_a_job_into_its_source_is_refused(one_generator, tmp_path):
    before = _files(one_generator)
    line = _one_line_error(_cli("publish", "--data-dir", str(one_generator), "--out", str(one_generator / "b"),
                                "--job-index", "0", cwd=tmp_path))
    assert f"--out {one_generator / 'b'} lies inside --data-dir {one_generator}" in line
    assert _files(one_generator) == before


def test_report_never_opens_a_fifo_named_like_a_report(tmp_path):
    reports = tmp_path / "copy" / publish.STATE_DIR / "reports"
    reports.mkdir(parents=True)
    os.mkfifo(reports / "sdv14-task0.json")
    line = _one_line_error(_cli("report", str(tmp_path / "copy"), cwd=tmp_path))
    assert line == f"error: {reports / 'sdv14-task0.json'}: a FIFO, not a regular file; not read"


def test_state_files_that_are_fifos_never_block(small_release_copy, tmp_path):
    """A FIFO in place of a part's manifest is an unfinished part (rebuilt); in place of a record, a named error."""
    out = tmp_path / "copy"
    publish.build_mirror(kinds.open_source(small_release_copy), out, log=lambda line: None)
    manifest = out / publish.STATE_DIR / "parts" / "sdv14-task0.json"
    manifest.unlink()
    os.mkfifo(manifest)
    lines = []
    publish.build_mirror(kinds.open_source(small_release_copy), out, log=lines.append)
    assert "part 1 of 2: sdv14-task0: building" in lines and manifest.is_file()
    record = out / publish.STATE_DIR / owned_files.RECORDS_DIR / "sdv14-task1.json"
    record.unlink()
    os.mkfifo(record)
    with pytest.raises(owned_files.DamagedRecord, match=f"{record}: unreadable record of written files .*a FIFO"):
        publish.build_mirror(kinds.open_source(small_release_copy), out, log=lambda line: None)


@pytest.mark.parametrize("job", [(), ("--job-index", "0")], ids=["publish", "job"])
def test_a_state_folder_that_is_a_link_is_refused(one_generator, tmp_path, job):
    state = publish.STATE_DIR
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "staging" / "sdv14-task0").mkdir(parents=True)
    (elsewhere / "staging" / "sdv14-task0" / "keep.txt").write_text("x")
    out = tmp_path / "copy"
    out.mkdir()
    (out / state).symlink_to(elsewhere)
    line = _one_line_error(_cli("publish", "--data-dir", str(one_generator), "--out", str(out), *job, cwd=tmp_path))
    assert line == (f"error: {out / state} is a link or not a folder: it is where a run keeps (and cleans) its own "
                    f"state; remove it or choose another output folder")
    assert (elsewhere / "staging" / "sdv14-task0" / "keep.txt").read_text() == "x"
