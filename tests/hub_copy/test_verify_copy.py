"""verify-copy and publish read only regular files inside the copy: no FIFO blocks them, no link leads out."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conversion.hub_copy import publish
from conversion.sources import kinds

ROOT = Path(__file__).resolve().parents[2]
PART = "sdv14-task3"
SHARD = "data/sdv14/task3/test-00000-of-00001.parquet"
TRAIN_SHARD = "data/sdv14/task3/train-00000-of-00001.parquet"


@pytest.fixture(scope="module")
def source(sample_root, tmp_path_factory) -> Path:
    """sdv14 alone, so that a plain publish that was not refused builds six parts, not 48."""
    root = tmp_path_factory.mktemp("source") / "GenImage"
    shutil.copytree(sample_root / "stable_diffusion_v_1_4", root / "stable_diffusion_v_1_4")
    return root


@pytest.fixture(scope="module")
def built(source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("built") / "copy"
    publish.build_parts_only(kinds.open_source(source), out, [PART], log=lambda line: None)
    return out


@pytest.fixture
def copy(built, tmp_path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(built, out, symlinks=True)
    return out


def _cli(*args: str) -> subprocess.CompletedProcess:
    """The command run in its own process, so that a reader blocked on a FIFO fails the test instead of hanging it."""
    return subprocess.run([sys.executable, "-m", "conversion", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def _publish(source: Path, copy: Path, *args: str) -> subprocess.CompletedProcess:
    return _cli("publish", "--data-dir", str(source), "--out", str(copy), "--no-progress", *args)


def _foreign(copy: Path, names: str) -> str:
    return (f"error: {copy}: {names} not written by genimage-cl; a run deletes and replaces only files it wrote: "
            f"move them out of {copy} or choose another output folder")


def test_a_fifo_in_the_copy_is_a_problem_not_a_hang(copy, source):
    os.mkfifo(copy / "data/sdv14/task3/x.parquet")
    done = _cli("verify-copy", str(copy), "--no-progress")
    assert done.returncode == 1, done.stderr
    assert "  problem: data/sdv14/task3/x.parquet: a FIFO, not a regular file; not read\n" in done.stdout
    assert done.stdout.startswith(f"{copy}: 2 shard(s) intact")
    done = _publish(source, copy, "--part", PART)
    assert done.returncode == 1
    assert done.stderr.strip() == _foreign(copy, "data/sdv14/task3/x.parquet")
    os.mkfifo(copy / "README.md")
    done = _cli("verify-copy", str(copy), "--no-progress")
    assert f"  problem: {copy}/README.md: a FIFO, not a regular file; not read\n" in done.stdout
    assert _publish(source, copy).stderr.strip() == _foreign(copy, "README.md, data/sdv14/task3/x.parquet")


def test_a_fifo_or_a_link_in_a_shards_place_is_rebuilt_never_read(copy, source, tmp_path):
    shard = copy / SHARD
    data = shard.read_bytes()
    shard.unlink()
    os.mkfifo(shard)
    assert _cli("verify-copy", str(copy), "--no-progress").stdout.splitlines()[2:] == [
        f"  problem: {SHARD}: a FIFO, not a regular file; not read", "1 problem(s)"]
    done = _publish(source, copy, "--part", PART)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"part 1 of 1: {PART}: building"
    assert not shard.is_symlink() and shard.is_file() and shard.read_bytes() == data
    outside = tmp_path / "outside.parquet"
    shutil.copy(copy / TRAIN_SHARD, outside)
    (copy / TRAIN_SHARD).unlink()
    (copy / TRAIN_SHARD).symlink_to(outside)
    done = _publish(source, copy, "--part", PART)
    assert done.returncode == 0 and done.stdout.splitlines()[0] == f"part 1 of 1: {PART}: building"
    assert not (copy / TRAIN_SHARD).is_symlink() and outside.read_bytes() == (copy / TRAIN_SHARD).read_bytes()


def test_a_copy_whose_data_is_a_link_out_is_refused_without_walking_it(copy, source, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(copy / "data")
    (copy / "data").symlink_to(outside)
    done = _cli("verify-copy", str(copy), "--no-progress")
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error: {copy}/data is a link to {outside}: not a copy made by publish "
                                   f"(links are not followed)")
    done = _publish(source, copy, "--part", PART)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error: {copy}: data is a link to {outside}, not a folder genimage-cl wrote; a run "
                                   f"never writes through a link: remove it or choose another output folder")
    assert _publish(source, copy).stderr.strip() == _foreign(copy, "data")
    assert list(outside.iterdir()) == []


def test_links_inside_the_copy_are_named_and_not_followed(copy, source, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(copy / TRAIN_SHARD, outside / "train-00000-of-00001.parquet")
    (copy / TRAIN_SHARD).unlink()
    (copy / TRAIN_SHARD).symlink_to(outside / "train-00000-of-00001.parquet")
    (copy / "data/adm").symlink_to(outside)
    printed = _cli("verify-copy", str(copy), "--no-progress").stdout.splitlines()
    assert printed == [
        f"{copy}: 1 shard(s) intact, {printed[0].split(', ')[1]}",
        f"  note: no README.md in {copy}: page checksums checked, row counts not compared with a card",
        f"  problem: data/adm: a link to {outside}; not followed",
        f"  problem: {TRAIN_SHARD}: a link to {outside}/train-00000-of-00001.parquet; not followed",
        "2 problem(s)",
    ]
    assert _publish(source, copy).stderr.strip() == _foreign(copy, "data/adm")



# --- the card's data_files are resolved as datasets resolves them, not with fnmatch ---

CONFIG = "sdv14-task3"
PATTERN = "data/sdv14/task3/test-*"


def _write_card(copy: Path, rows: int, paths=PATTERN, extra_configs=()) -> None:
    """A card declaring the part's test split alone (its train shard removed, so none is left undeclared)."""
    import yaml

    (copy / TRAIN_SHARD).unlink(missing_ok=True)

    configs = [{"config_name": CONFIG, "data_files": [{"split": "test", "path": paths}]}, *extra_configs]
    infos = [{"config_name": CONFIG, "splits": [{"name": "test", "num_bytes": 0, "num_examples": rows}]}]
    (copy / "README.md").write_text("---\n" + yaml.safe_dump({"configs": configs, "dataset_info": infos}) + "---\n")


def _rows(copy: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(copy / SHARD).metadata.num_rows


def test_a_stray_shard_that_fnmatch_would_count_is_what_datasets_ignores(copy, tmp_path, capsys):
    import fnmatch

    import datasets

    from conversion import cli
    from conversion.hub_copy import verify_copy

    rows = _rows(copy)
    _write_card(copy, rows)
    stray = "data/sdv14/task3/test-x/a.parquet"
    (copy / stray).parent.mkdir()
    shutil.copy(copy / SHARD, copy / stray)
    assert fnmatch.fnmatchcase(stray, PATTERN), "fnmatch's * crosses /: the old check counted it"

    builder = datasets.load_dataset_builder(str(copy), CONFIG, cache_dir=str(tmp_path / "cache"))
    loaded = [Path(f).relative_to(copy).as_posix() for f in builder.config.data_files["test"]]
    assert loaded == [SHARD] == verify_copy.data_files(copy, [PATTERN])
    builder.download_and_prepare()
    assert builder.as_dataset(split="test").num_rows == rows

    result = verify_copy.verify(copy, progress=False)
    assert result.rows == {SHARD: rows, stray: rows}, "the stray shard's pages are checked too"
    assert result.problems == [f"{stray}: in no config's data_files: load_dataset never reads it (a stray shard: "
                               f"remove it, or declare it in README.md)"]
    with pytest.raises(SystemExit) as exit_:  # in process: a verify-copy subprocess can abort at exit
        cli.main(["verify-copy", str(copy), "--no-progress"])
    assert exit_.value.code == 1
    assert capsys.readouterr().out.splitlines()[1:] == [f"  problem: {result.problems[0]}", "1 problem(s)"]


def test_what_datasets_would_read_wrongly_is_a_problem(copy):
    from conversion.hub_copy import verify_copy

    rows = _rows(copy)
    (copy / "data/sdv14/task3/test-notes.txt").write_text("not a shard")
    _write_card(copy, rows, paths=[PATTERN, SHARD], extra_configs=[
        {"config_name": "gone", "data_files": [{"split": "test", "path": "data/sdv14/task3/test-gone.parquet"}]}])
    assert verify_copy.data_files(copy, [PATTERN, SHARD]) == [SHARD, "data/sdv14/task3/test-notes.txt", SHARD]
    assert verify_copy.verify(copy, progress=False).problems == [
        f"config {CONFIG} test: {PATTERN}, {SHARD} select data/sdv14/task3/test-notes.txt, not a regular Parquet "
        f"shard under data/: load_dataset would read it as one",
        f"config {CONFIG} test: {SHARD} selected twice by {PATTERN}, {SHARD}: load_dataset would read its rows twice",
        "config gone test: load_dataset fails: data/sdv14/task3/test-gone.parquet names no file of a format "
        "datasets reads",
    ]


def test_a_copy_in_a_folder_whose_name_looks_like_a_pattern_resolves_as_on_the_hub(built, tmp_path):
    from conversion.hub_copy import verify_copy

    copy = tmp_path / "runs[1]*" / "copy"
    shutil.copytree(built, copy)
    _write_card(copy, _rows(copy))
    result = verify_copy.verify(copy, progress=False)
    assert result.problems == [] and list(result.rows) == [SHARD]


def test_a_card_without_configs_uses_datasets_default_patterns(copy):
    from conversion.hub_copy import verify_copy

    (copy / "README.md").write_text("---\nlicense: other\n---\n")
    (copy / TRAIN_SHARD).unlink()
    report = copy / "reports/sdv14/task3/test/build_report.json"  # a folder named test, as build jobs left them
    report.parent.mkdir(parents=True)
    report.write_text("{}")
    # the first of datasets' default patterns that finds files: a folder named test, here the job's reports
    assert verify_copy.default_patterns(copy)["test"][:2] == ["**/test/**", "**/test[-._ 0-9]*/**"]
    problems = verify_copy.verify(copy, progress=False).problems
    assert problems[0].startswith("config default test: **/test/**, ") and (
        " select reports/sdv14/task3/test/build_report.json, " in problems[0]), problems
    assert problems[1:] == ["config default test: the card's dataset_info gives no row count",
                            f"{SHARD}: in no config's data_files: load_dataset never reads it (a stray shard: "
                            f"remove it, "
                            f"or declare it in README.md)"]
    shutil.rmtree(copy / "reports")
    assert "**/test[-._ 0-9]*" in verify_copy.default_patterns(copy)["test"]
    assert verify_copy.verify(copy, progress=False).problems == [
        "config default test: the card's dataset_info gives no row count"]


# --- every shard's sha256: recorded in its part's manifest, compared with it and with the Hub's LFS digest ---

def _flip_in_footer(shard: Path) -> None:
    """Flip one bit of the writer's name in the footer (Thrift metadata, which page checksums do not cover)."""
    data = bytearray(shard.read_bytes())
    at = data.rindex(b"parquet-cpp-arrow")
    assert at > len(data) - 4 - int.from_bytes(data[-8:-4], "little"), "the writer's name lies in the footer"
    data[at] ^= 0x01
    shard.write_bytes(bytes(data))


def _manifest(copy: Path) -> dict:
    import json

    return json.loads((copy / publish.STATE_DIR / "parts" / f"{PART}.json").read_text())


def test_the_manifest_records_each_shards_sha256(built):
    files = [f for s in _manifest(built)["splits"].values() for f in s["files"]]
    assert [f["path"] for f in files] == [TRAIN_SHARD, SHARD]
    for entry in files:
        assert entry["sha256"] == hashlib.sha256((built / entry["path"]).read_bytes()).hexdigest()


def test_a_flipped_byte_in_a_footer_fails_verify_copy(copy, capsys):
    from conversion import cli
    from conversion.hub_copy import verify_copy

    recorded = next(f["sha256"] for f in _manifest(copy)["splits"]["test"]["files"])
    _flip_in_footer(copy / SHARD)
    verify_copy.shard_rows(copy / SHARD)  # the pages and the footer still read: only the digest finds it
    with pytest.raises(SystemExit) as exit_:
        cli.main(["verify-copy", str(copy), "--no-progress"])
    assert exit_.value.code == 1
    now = hashlib.sha256((copy / SHARD).read_bytes()).hexdigest()
    assert capsys.readouterr().out.splitlines() == [
        f"{copy}: 1 shard(s) intact, {verify_copy.shard_rows(copy / TRAIN_SHARD)} rows",
        f"  note: no README.md in {copy}: page checksums checked, row counts not compared with a card",
        f"  problem: {SHARD}: damaged: its sha256 is {now}, its part's manifest recorded {recorded}",
        "1 problem(s)"]


def test_a_part_published_before_digests_gets_them_on_its_next_run(copy, source):
    import json

    manifest = copy / publish.STATE_DIR / "parts" / f"{PART}.json"
    with_digests = manifest.read_text()
    shards = {p: (copy / p).read_bytes() for p in (SHARD, TRAIN_SHARD)}
    old = json.loads(with_digests)  # as a run before digests wrote it
    for split in old["splits"].values():
        for entry in split["files"]:
            del entry["sha256"]
    manifest.write_text(json.dumps(old, indent=1))
    lines = []
    publish.build_parts_only(kinds.open_source(source), copy, [PART], log=lines.append)
    assert lines == [f"part 1 of 1: {PART}: done before ({_part_rows(copy)} rows), kept",
                     f"part 1 of 1: {PART}: shard digests (sha256) recorded in its manifest"]
    assert manifest.read_text() == with_digests
    assert {p: (copy / p).read_bytes() for p in shards} == shards, "kept, not rebuilt"


def _part_rows(copy: Path) -> int:
    return sum(s["num_examples"] for s in _manifest(copy)["splits"].values())


def test_verify_copy_against_the_hub_offline_is_one_line(copy, monkeypatch, capsys):
    from huggingface_hub import constants

    from conversion import cli

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["verify-copy", str(copy), "--no-progress", "--repo-id", "me/genimage-cl"])
    assert exit_.value.code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --repo-id reads the Hub repository's file list, but HF_HUB_OFFLINE is set: unset it"]


@pytest.fixture
def uploaded(copy, tmp_path, monkeypatch):
    """The copy's shards in a stand-in Hub repository, which every HfApi that verify-copy makes reaches."""
    from huggingface_hub import CommitOperationAdd

    from conversion.hub_copy import upload
    from tests.hub_stand_in import StandInHub

    hub = StandInHub(tmp_path / "hub")
    monkeypatch.setattr(upload, "HfApi", lambda *args, **kwargs: hub)
    monkeypatch.setattr(upload, "get_token", lambda: None)
    monkeypatch.setattr(upload.constants, "HF_HUB_OFFLINE", False)
    hub.create_repo("me/genimage-cl", repo_type="dataset")
    hub.create_commit("me/genimage-cl", [CommitOperationAdd(p, str(copy / p)) for p in (SHARD, TRAIN_SHARD)],
                      commit_message="shards")
    return hub


def test_verify_copy_compares_every_shard_with_the_hubs_lfs_sha256(copy, uploaded, capsys):
    from conversion import cli

    downloaded = copy.parent / "downloaded"  # as a download holds it: no publish state, no manifests
    shutil.copytree(copy, downloaded, ignore=shutil.ignore_patterns(publish.STATE_DIR))

    def verify(folder: Path) -> tuple[int, list[str]]:
        with pytest.raises(SystemExit) as exit_:
            cli.main(["verify-copy", str(folder), "--no-progress", "--repo-id", "me/genimage-cl"])
        return exit_.value.code, [line for line in capsys.readouterr().out.splitlines() if "problem: " in line]

    first = verify(copy)
    assert first == (0, []), first
    assert verify(downloaded) == (0, [])
    _flip_in_footer(downloaded / SHARD)
    code, problems = verify(downloaded)
    assert code == 1 and len(problems) == 1
    assert problems[0].startswith(f"  problem: {SHARD}: differs from me/genimage-cl: sha256 ")
    _flip_in_footer(uploaded.folder("me/genimage-cl") / TRAIN_SHARD)  # damaged on the Hub's side
    (copy / "data/sdv14/task3/test-00000-of-00001.parquet").rename(copy / "data/sdv14/task3/test-x.parquet")
    code, problems = verify(copy)
    assert code == 1 and problems[0] == f"  problem: {SHARD}: in me/genimage-cl, not in {copy}", problems
    assert problems[1] == "  problem: data/sdv14/task3/test-x.parquet: not in me/genimage-cl"
    assert problems[2].startswith(f"  problem: {TRAIN_SHARD}: differs from me/genimage-cl: sha256 ")
    assert len(problems) == 3
