"""The Hub copy: layout, card, loading with plain datasets, round trip to the release, resume, upload."""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import datasets
import pytest
import torch
import yaml
from huggingface_hub import CommitOperationAdd, CommitOperationCopy, CommitOperationDelete, constants

from conversion import cli
from conversion.builder import culprits
from conversion.contract import configs, tables
from conversion.hub_copy import publish, upload
from conversion.samples import tensor_release as release_writer
from conversion.sources import kinds, release
from conversion.uses.tensors import paper_tensors
from tests.hub_stand_in import StandInHub
from tests.lock_holder import hold_lock

DISJOINT_PARTS = [(key, task) for task, key in enumerate(tables.task_order())]
PARTS = sorted(set(DISJOINT_PARTS) | {("sdv14", t) for t in range(6)})


def _pair_folder(root: Path, generator: str, task: int, split: str, source: str) -> Path:
    return release_writer.release_folder(root, "original", generator, task, split, source)


@pytest.fixture(scope="session")
def small_release(sample_release, tmp_path_factory) -> Path:
    """sdv14's six tasks plus the parts of ``disjoint``: adm, biggan, ... configs are incomplete."""
    root = tmp_path_factory.mktemp("small_release") / "release"
    for generator, task in PARTS:
        for split in ("train", "test"):
            for source in tables.SOURCES:
                shutil.copytree(_pair_folder(sample_release, generator, task, split, source),
                                _pair_folder(root, generator, task, split, source))
    return root


@pytest.fixture(scope="session")
def mirror(small_release, tmp_path_factory):
    out = tmp_path_factory.mktemp("hub") / "genimage-cl"
    return publish.build_mirror(kinds.open_source(small_release), out, log=lambda line: None)


@pytest.fixture
def load(mirror, tmp_path_factory, monkeypatch):
    """load_dataset("genimage-cl", ...) run from the folder's parent, as a user would."""
    monkeypatch.chdir(mirror.out.parent)
    cache = tmp_path_factory.mktemp("load_cache")

    def _load(*args, **kwargs):
        kwargs.setdefault("cache_dir", str(cache))
        return datasets.load_dataset(mirror.out.name, *args, **kwargs)

    return _load


def _card(mirror) -> dict:
    text = (mirror.out / "README.md").read_text()
    return yaml.safe_load(text.split("---\n")[1])


def _infos(card: dict) -> dict[str, dict]:
    """dataset_info per config: a list for several configs, a single mapping for one."""
    infos = card["dataset_info"]
    return {i["config_name"]: i for i in (infos if isinstance(infos, list) else [infos])}


def test_folder_layout(mirror):
    files = sorted(str(p.relative_to(mirror.out)) for p in mirror.out.rglob("*") if p.is_file())
    assert not [f for f in files if f.endswith(".py")]
    shipped = [f for f in files if not f.startswith(publish.STATE_DIR + "/")]
    expected = ["README.md"] + [f"data/{g}/task{t}/{s}-00000-of-00001.parquet"
                                for g, t in PARTS for s in ("test", "train")]
    expected += [f"figures/samples-{g}.png" for g in sorted({g for g, _ in PARTS})]
    expected += [f"figures/balance-{g}-task{t}.png" for g, t in PARTS]
    assert shipped == sorted(expected)
    assert sorted(p for p, _ in mirror.files()) == sorted(expected)


def test_card_declares_complete_configs_only(mirror):
    card = _card(mirror)
    names = [c["config_name"] for c in card["configs"]]
    assert sorted(names) == sorted(["sdv14", "disjoint"] + [configs.task_config_name(g, t) for g, t in PARTS])
    assert "adm" not in names and "adm" in mirror.skipped_configs
    assert mirror.skipped_configs["disjoint-reversed"] == [("vqdm", 0), ("glide", 2), ("midjourney", 3), ("biggan", 4),
                                                           ("adm", 5)]  # only sdv14 task 1 of its parts is there
    disjoint = next(c for c in card["configs"] if c["config_name"] == "disjoint")
    assert disjoint["data_files"][0] == {"split": "train",
                                         "path": [f"data/{g}/task{t}/train-*" for g, t in DISJOINT_PARTS]}
    infos = _infos(card)
    assert infos.keys() == set(names)
    sdv14 = infos["sdv14"]
    assert [s["name"] for s in sdv14["splits"]] == ["train", "test"]
    assert sdv14["splits"][0]["num_examples"] == sum(p.splits["train"]["num_examples"] for p in mirror.configs["sdv14"])
    assert sdv14["download_size"] == sum(p.parquet_bytes() for p in mirror.configs["sdv14"])
    label = next(f for f in sdv14["features"] if f["name"] == "label")
    assert list(label["dtype"]["class_label"]["names"].values()) == list(tables.wnids())
    text = (mirror.out / "README.md").read_text()
    assert "| `sdv14` | 0, 1, 2, 3, 4, 5 |" in text and "built from the CL tensor release itself" in text


def _without_image(ds):
    return {c: ds[c] for c in ds.column_names if c != "image"}


def _image_bytes(ds):
    return [x["bytes"] for x in ds.cast_column("image", datasets.Image(decode=False))["image"]]


def test_load_dataset_gives_the_builder_rows(load, small_release, build):
    loaded = load("sdv14")
    built = build("sdv14", small_release)
    for split in ("train", "test"):
        assert loaded[split].features == built[split].features
        assert _without_image(loaded[split]) == _without_image(built[split])
        assert _image_bytes(loaded[split]) == _image_bytes(built[split])


def test_disjoint_and_streaming(load):
    disjoint = load("disjoint", split="test")
    pairs = sorted(set(zip(disjoint["generator"], disjoint["task"])), key=lambda p: p[1])
    names = disjoint.features["generator"].names
    assert [(names[g], t) for g, t in pairs] == DISJOINT_PARTS
    streamed = load("sdv14-task3", streaming=True)
    rows = list(streamed["train"])
    assert rows and {r["task"] for r in rows} == {3}
    assert rows[0]["image"].size == (64, 64)
    assert [r["file_name"] for r in rows] == load("sdv14-task3", split="train")["file_name"]


def test_round_trip_equals_the_release_bit_for_bit(load, small_release):
    loaded = load("sdv14")
    for split in ("train", "test"):
        tensors = paper_tensors(loaded[split], labels="clsloc")
        assert sorted(tensors) == sorted((t, s) for t in range(6) for s in tables.SOURCES)
        for (task, source), (x, y) in tensors.items():
            pair = _pair_folder(small_release, "sdv14", task, split, source)
            x_release = torch.load(pair / "X.pt", weights_only=True)
            assert x.dtype == torch.float32
            assert torch.equal(x.view(torch.int32), x_release.view(torch.int32))
            assert torch.equal(y, torch.load(pair / "y.pt", weights_only=True))
        standard = paper_tensors(loaded[split], task=2, source="ai", labels="standard")[2, "ai"].y
        y_release = torch.load(_pair_folder(small_release, "sdv14", 2, split, "ai") / "y.pt", weights_only=True)
        assert standard.tolist() == [tables.label_of_clsloc()[int(v) + 1] for v in y_release]


def test_datasets_cli_test_passes(mirror, tmp_path):
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "datasets.commands.datasets_cli", "test", mirror.out.name, "--all_configs",
         "--cache_dir", str(tmp_path)],
        cwd=mirror.out.parent, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Test successful" in result.stdout + result.stderr
    assert (result.stdout + result.stderr).count("Testing builder") == len(mirror.configs)


def test_rerun_resumes(small_release, mirror, tmp_path):
    out = tmp_path / "genimage-cl"
    shutil.copytree(mirror.out, out)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")}
    lines = []
    publish.build_mirror(kinds.open_source(small_release), out, log=lines.append)
    assert all("done before" in line for line in lines) and len(lines) == len(PARTS)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.parquet")} == before
    truncated = out / "data/sdv14/task1/train-00000-of-00001.parquet"
    truncated.write_bytes(truncated.read_bytes()[:100])
    (out / publish.STATE_DIR / "parts" / "glide-task3.json").unlink()
    lines.clear()
    again = publish.build_mirror(kinds.open_source(small_release), out, log=lines.append)
    rebuilt = sorted(line.split(": ")[1] for line in lines if line.endswith(": building"))
    assert rebuilt == ["glide-task3", "sdv14-task1"]
    assert again.parquet_bytes() == mirror.parquet_bytes()
    staging = out / publish.STATE_DIR / "staging"
    assert not staging.exists() or not any(staging.iterdir())


class FakeHub:
    """Just enough of HfApi for push_to_hub, storing the repository in a local folder."""

    def __init__(self, repo: Path):
        self.repo = repo

    def repo_info(self, repo_id, **kwargs):
        return SimpleNamespace(id=repo_id, sha="0" * 40)

    def preupload_lfs_files(self, repo_id, additions, **kwargs):
        for op in additions:
            target = self.repo / op.path_in_repo
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(op.path_or_fileobj, target)

    def create_commit(self, repo_id, operations, **kwargs):
        for op in operations:
            if isinstance(op, CommitOperationAdd) and isinstance(op.path_or_fileobj, bytes):
                (self.repo / op.path_in_repo).write_bytes(op.path_or_fileobj)
            elif isinstance(op, CommitOperationDelete):
                (self.repo / op.path_in_repo).unlink()
        return SimpleNamespace(oid="1")


def test_same_layout_and_info_as_push_to_hub(small_release, tmp_path, build, monkeypatch):
    """push_to_hub of one generator-task (with a fake Hub) writes the same shards and dataset_info."""
    from datasets import arrow_dataset
    from fsspec.implementations.dirfs import DirFileSystem
    from fsspec.implementations.local import LocalFileSystem

    repo = tmp_path / "repo"
    repo.mkdir()
    monkeypatch.setattr(arrow_dataset, "HfApi", lambda *a, **k: FakeHub(repo))
    monkeypatch.setattr(arrow_dataset, "HfFileSystem", lambda *a, **k: None)
    monkeypatch.setattr(arrow_dataset, "DirFileSystem",
                        lambda fs, path: DirFileSystem(fs=LocalFileSystem(), path=str(repo)))
    one_part = tmp_path / "release"
    for split in ("train", "test"):
        for source in tables.SOURCES:
            shutil.copytree(_pair_folder(small_release, "sdv14", 0, split, source),
                            _pair_folder(one_part, "sdv14", 0, split, source))
    built = build("sdv14-task0", one_part)
    for split in ("train", "test"):
        built[split].push_to_hub("me/genimage-cl", config_name="sdv14-task0", data_dir="data/sdv14/task0",
                                 split=split, max_shard_size="10KB")
    out = tmp_path / "genimage-cl"
    ours = publish.build_mirror(kinds.open_source(one_part), out, max_shard_size="10KB", log=lambda line: None)
    pushed = sorted(p.relative_to(repo) for p in (repo / "data").rglob("*.parquet"))
    written = sorted(p.relative_to(out) for p in (out / "data" / "sdv14" / "task0").rglob("*.parquet"))
    assert pushed == written and len(pushed) > 2
    import pyarrow.parquet as pq

    for path in pushed:  # same rows and row groups; ours add a CRC to every page header (so bytes differ)
        theirs, mine = pq.ParquetFile(repo / path), pq.ParquetFile(out / path)
        assert [theirs.metadata.row_group(i).num_rows for i in range(theirs.num_row_groups)] == [
            mine.metadata.row_group(i).num_rows for i in range(mine.num_row_groups)]
        assert mine.read().equals(theirs.read()) and mine.schema_arrow.equals(theirs.schema_arrow, check_metadata=True)
    card_pushed = yaml.safe_load((repo / "README.md").read_text().split("---\n")[1])
    pushed_infos, ours_infos = _infos(card_pushed), _infos(_card(ours))
    assert ours_infos["sdv14-task0"]["download_size"] == sum((out / p).stat().st_size for p in written)
    for info in (pushed_infos["sdv14-task0"], ours_infos["sdv14-task0"]):  # the page checksums' bytes aside
        info.pop("download_size"), info.pop("size_in_bytes", None)
    assert pushed_infos == ours_infos
    ours_configs = {c["config_name"]: c for c in _card(ours)["configs"]}
    assert card_pushed["configs"] == [ours_configs["sdv14-task0"]]
    monkeypatch.chdir(tmp_path)
    loaded = datasets.load_dataset("genimage-cl", "sdv14-task0", cache_dir=str(tmp_path / "cache"))
    for split in ("train", "test"):
        assert _without_image(loaded[split]) == _without_image(built[split])
        assert _image_bytes(loaded[split]) == _image_bytes(built[split])


def test_upload_fails_fast(monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(upload.UploadError, match="HF_HUB_OFFLINE is set"):
        upload.connect("me/genimage-cl")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(upload, "get_token", lambda: None)
    with pytest.raises(upload.UploadError, match="no Hugging Face token"):
        upload.connect("me/genimage-cl")
    with pytest.raises(upload.UploadError, match="USER/NAME"):
        upload.connect("genimage-cl", token="hf_x")

    class Unreachable:
        def whoami(self):
            raise ConnectionError("Name or service not known")

    with pytest.raises(upload.UploadError, match="cannot reach the Hugging Face Hub.*Name or service"):
        upload.connect("me/genimage-cl", token="hf_x", api=Unreachable())


@pytest.mark.skipif(not (os.environ.get("GENIMAGE_CL_HUB_TEST_REPO") and os.environ.get("HF_TOKEN")),
                    reason="real upload: set GENIMAGE_CL_HUB_TEST_REPO=user/name and HF_TOKEN to run")
def test_real_upload(mirror, tmp_path, monkeypatch):
    repo_id = os.environ["GENIMAGE_CL_HUB_TEST_REPO"]
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    api = upload.connect(repo_id)
    upload.upload(mirror, repo_id, api, private=True)
    loaded = datasets.load_dataset(repo_id, "sdv14-task0", split="test", cache_dir=str(tmp_path))
    assert len(loaded) == mirror.configs["sdv14-task0"][0].splits["test"]["num_examples"]


def test_publish_from_a_raw_tree(tmp_path, monkeypatch):
    from conversion.samples.genimage_tree import make_sample_tree

    tree = make_sample_tree(tmp_path / "GenImage", generators=["sdv15"], layout="inner")
    built = publish.build_mirror(kinds.open_source(tree), tmp_path / "hub" / "genimage-cl", log=lambda line: None)
    assert sorted(built.configs) == sorted(["sdv15"] + [f"sdv15-task{t}" for t in range(6)])
    assert not built.skipped_configs
    monkeypatch.chdir(tmp_path / "hub")
    loaded = datasets.load_dataset("genimage-cl", "sdv15-task1", split="test", cache_dir=str(tmp_path / "cache"))
    assert len(loaded) == built.configs["sdv15-task1"][0].splits["test"]["num_examples"] > 0
    assert set(loaded["task"]) == {1}
    assert not any(release.is_release_name(n) for n in loaded["file_name"])
    assert "built from the raw GenImage files" in (built.out / "README.md").read_text()


def test_card_features_written_once_or_in_full(mirror):
    text = (mirror.out / "README.md").read_text().split("---\n")[1]
    assert text.count("n01440764") == 1 and text.count("*id001") == len(mirror.configs) - 1
    full = publish.card_data(mirror.configs, yaml_aliases=False).to_yaml()
    assert full.count("n01440764") == len(mirror.configs) and "*id001" not in full
    assert yaml.safe_load(full)["dataset_info"] == _card(mirror)["dataset_info"]


def test_job_array_parts_then_assembly(small_release, mirror, tmp_path):
    """Each job builds one part (in parallel processes); a final run builds nothing and writes the same card."""
    out = tmp_path / "genimage-cl"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-m", "conversion", "publish", "--data-dir", str(small_release), "--out", str(out)]
    present = kinds.open_source(small_release).parts()
    jobs = [subprocess.Popen(command + ["--job-index", str(i)], env=env, stdout=subprocess.DEVNULL)
            for i in range(2)]
    assert [job.wait() for job in jobs] == [0, 0]
    named = configs.task_config_name(*present[2])
    subprocess.run(command + ["--part", named], env=env, check=True, stdout=subprocess.DEVNULL)
    assert not (out / "README.md").exists()
    lines = []
    final = publish.build_mirror(kinds.open_source(small_release), out, log=lines.append)
    assert sum("done before" in line for line in lines) == 3
    assert sum(line.endswith(": building") for line in lines) == len(present) - 3
    assert (out / "README.md").read_text() == (mirror.out / "README.md").read_text()
    assert final.parquet_bytes() == mirror.parquet_bytes()


def test_job_index_out_of_range(small_release, tmp_path):
    with pytest.raises(ValueError, match=r"job index 99 out of range: .* holds \d+ parts"):
        publish.build_parts_only(kinds.open_source(small_release), tmp_path / "out", job_index=99)
    with pytest.raises(ValueError, match=r"part\(s\) wukong-task0 not in"):
        publish.build_parts_only(kinds.open_source(small_release), tmp_path / "out", names=["wukong-task0"])


def test_list_jobs_numbers_the_parts_as_job_index_builds_them(small_release, tmp_path, capsys):
    """--list-jobs prints "INDEX GEN-taskK" a line, writes nothing, and job N builds the part on line N."""
    out = tmp_path / "out"
    assert cli_status(["publish", "--data-dir", str(small_release), "--list-jobs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" ")[0] for line in lines] == [str(i) for i in range(len(lines))]
    listed = [line.split(" ", 1)[1] for line in lines]
    assert listed == [configs.task_config_name(*p) for p in kinds.open_source(small_release).parts()]
    assert len(set(listed)) == len(listed) > 2
    for index in (0, len(listed) // 2, len(listed) - 1):
        parts = publish.build_parts_only(kinds.open_source(small_release), out, job_index=index, log=lambda line: None)
        assert [part.name for part in parts] == [listed[index]]
    assert cli_status(["publish", "--data-dir", str(small_release), "--out", str(tmp_path / "unwritten"),
                       "--list-jobs"]) == 0
    assert not (tmp_path / "unwritten").exists()
    capsys.readouterr()
    assert cli_status(["publish", "--data-dir", str(small_release)]) == 1
    assert capsys.readouterr().err.strip() == "error: publish needs --out OUT (all but --list-jobs do)"


@pytest.fixture(scope="module")
def sdv15_tree(tmp_path_factory) -> Path:
    """sdv15 alone, one class per task: six small parts from a raw tree."""
    from conversion.samples.genimage_tree import make_sample_tree

    return make_sample_tree(tmp_path_factory.mktemp("sdv15") / "GenImage", generators=["sdv15"], classes_per_task=1)


def test_parts_record_their_image_size_and_a_run_with_another_rebuilds_them(sdv15_tree, tmp_path, monkeypatch):
    """A card never declares parts of two sizes: a part built at another image size or check is rebuilt."""
    import pyarrow.parquet as pq
    from PIL import Image

    out = tmp_path / "copy"
    lines = []
    publish.build_parts_only(kinds.open_source(sdv15_tree), out, ["sdv15-task2"], image_size=32, log=lines.append)
    shard = out / "data/sdv15/task2/train-00000-of-00001.parquet"

    def sizes() -> set:
        images = pq.read_table(shard, columns=["image"])["image"].to_pylist()
        return {Image.open(io.BytesIO(image["bytes"])).size for image in images}

    assert sizes() == {(32, 32)}
    lines.clear()
    publish.build_parts_only(kinds.open_source(sdv15_tree), out, ["sdv15-task2"], image_size=32, log=lines.append)
    assert lines == ["part 1 of 1: sdv15-task2: done before (4 rows), kept"]
    lines.clear()
    full = publish.build_mirror(kinds.open_source(sdv15_tree), out, image_size="original", check="structure",
                                log=lines.append)
    assert lines[:2] == ["part 1 of 6: sdv15-task0: building", "part 1 of 6: sdv15-task0: 4 rows, "
                         f"{full.parts[0].parquet_bytes():,} bytes of Parquet"]
    assert ("part 3 of 6: sdv15-task2: built before as 32x32 PNG; this run asks the original files at full "
            "resolution (check structure)") in lines
    assert sum(line.endswith(": building") for line in lines) == 6
    assert {(p.image_size, p.check) for p in full.parts} == {("original", "structure")}
    assert max(max(size) for size in sizes()) > 64
    card_text = (out / "README.md").read_text()
    assert "natural ImageNet images, at full resolution," in card_text and "64x64 RGB" not in card_text
    assert "files were not decoded" in card_text and "collate_fn=images_as_list" in card_text
    assert "paper_tensors" not in card_text
    assert "images:  the original files at full resolution (check structure)" in publish.summary(full)
    lines.clear()
    again = publish.build_mirror(kinds.open_source(sdv15_tree), out, image_size="original", check="structure",
                                 log=lines.append)
    assert sum("done before" in line for line in lines) == 6 and (out / "README.md").read_text() == card_text
    assert again.image_size == "original"
    monkeypatch.chdir(out.parent)
    loaded = datasets.load_dataset(out.name, "sdv15-task2", split="train", cache_dir=str(tmp_path / "cache"))
    assert len(loaded) == 2 and max(max(image.size) for image in loaded["image"]) > 64


def test_options_no_build_takes_are_refused_before_anything_is_written(small_release, sdv15_tree, tmp_path, capsys):
    out = tmp_path / "never"
    for args, message in [
        ((small_release, "--image-size", "original"), f"{small_release} is a tensor release: its images exist only "
                                                      f"as 64x64 pixels, so --image-size must be 64 (got original)"),
        ((sdv15_tree, "--check", "structure"), "--check structure needs --image-size original"),
        ((sdv15_tree, "--image-size", "32", "--corruptions", "rotate"), "--corruptions needs --image-size 64, got 32"),
    ]:
        for job in ((), ("--job-index", "0")):
            capsys.readouterr()
            assert _publish("--data-dir", args[0], "--out", out, *args[1:], *job) == 1
            assert message in capsys.readouterr().err.strip().splitlines()[-1]
            assert not out.exists()
    with pytest.raises(ValueError, match="image size must be a positive integer or 'original', got 0"):
        publish.build_parts_only(kinds.open_source(sdv15_tree), out, ["sdv15-task0"], image_size=0)
    assert not (out / "data").exists()


def test_overwrite_rebuilds_parts_done_before_and_a_config_names_its_parts(sdv15_tree, tmp_path, capsys):
    out = tmp_path / "copy"
    assert _publish("--data-dir", sdv15_tree, "--out", out, "--part", "sdv15-task1", "--no-progress") == 0
    shard = out / "data/sdv15/task1/test-00000-of-00001.parquet"
    built = shard.stat().st_mtime_ns
    capsys.readouterr()
    assert _publish("--data-dir", sdv15_tree, "--out", out, "--part", "sdv15-task1", "--no-progress") == 0
    assert capsys.readouterr().out.splitlines()[0] == "part 1 of 1: sdv15-task1: done before (4 rows), kept"
    assert shard.stat().st_mtime_ns == built
    assert _publish("--data-dir", sdv15_tree, "--out", out, "--part", "SDV15-Task1", "--overwrite",
                    "--no-progress") == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["part 1 of 1: sdv15-task1: built before, rebuilt (overwrite)",
                                                        "part 1 of 1: sdv15-task1: building"]
    assert shard.stat().st_mtime_ns != built
    parts = publish.build_parts_only(kinds.open_source(sdv15_tree), out, ["sdv15", "sdv15-task1"],
                                     log=lambda line: None)
    assert [p.name for p in parts] == [f"sdv15-task{t}" for t in range(6)]
    with pytest.raises(ValueError, match=r"part\(s\) adm-task0, biggan-task1, .*, vqdm-task5 not in .*; "
                                         r"it holds sdv15-task0, "):
        publish.build_parts_only(kinds.open_source(sdv15_tree), out, ["disjoint"], log=lambda line: None)


def test_summary_counts_parquet_files_only(mirror):
    shards = sorted(mirror.out.glob("data/*/*/*.parquet"))
    assert (mirror.out / "figures").is_dir()
    assert f"in {len(shards)} Parquet files" in publish.summary(mirror)


def test_summary_gives_the_skip_total_and_where_the_reports_are(mirror, tmp_path):
    import dataclasses
    import json

    out = tmp_path / "my copies" / "genimage-cl"  # a space: the suggested command quotes the path
    shutil.copytree(mirror.out / publish.STATE_DIR / "reports", out / publish.STATE_DIR / "reports")
    reports = out / publish.STATE_DIR / "reports"
    summary = publish.summary(dataclasses.replace(mirror, out=out))
    assert f"skipped: 0 files; build reports in {reports} (python -m conversion report '{out}')" in summary
    line = next(line for line in summary.splitlines() if line.startswith("skipped:"))
    command = shlex.split(line.split("(python -m conversion ", 1)[1].removesuffix(")"))
    assert command == ["report", str(out)]
    with pytest.raises(SystemExit) as exit_:
        cli.main(command)
    assert exit_.value.code == 0
    report_file = sorted(reports.glob("*.json"))[0]
    report = json.loads(report_file.read_text())
    report["skipped"] = [
        {"path": "x.png", "generator": "sdv14", "split": "train", "source": "ai", "reason": "empty"}] * 2
    report_file.write_text(json.dumps(report))
    assert "skipped: 2 files; build reports in" in publish.summary(dataclasses.replace(mirror, out=out))


def test_a_repaired_tensor_file_with_size_and_mtime_kept_is_rebuilt(small_release, tmp_path):
    root = tmp_path / "release"
    for split in ("train", "test"):
        for source in tables.SOURCES:
            shutil.copytree(_pair_folder(small_release, "sdv14", 1, split, source),
                            _pair_folder(root, "sdv14", 1, split, source))
    out = tmp_path / "genimage-cl"
    lines = []

    def labels_by_name():
        import pyarrow.parquet as pq

        table = pq.read_table(sorted((out / "data/sdv14/task1").glob("train-*.parquet")),
                              columns=["file_name", "label"])
        return dict(zip(table["file_name"].to_pylist(), table["label"].to_pylist()))

    publish.build_parts_only(kinds.open_source(root), out, ["sdv14-task1"], log=lines.append)
    before = labels_by_name()
    publish.build_parts_only(kinds.open_source(root), out, ["sdv14-task1"], log=lines.append)
    assert "done before" in lines[-1]
    y_path = _pair_folder(root, "sdv14", 1, "train", "ai") / release.Y_FILE
    stat = y_path.stat()
    y = torch.load(y_path, weights_only=True)
    assert len(set(y.tolist())) > 1
    saved = tmp_path / "y.pt"
    torch.save(y.flip(0), saved)  # the same task's labels in another order: same size
    assert saved.stat().st_size == stat.st_size
    with open(y_path, "r+b") as f:  # in place, as unzip -o rewrites a file
        f.write(saved.read_bytes())
    os.utime(y_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    publish.build_parts_only(kinds.open_source(root), out, ["sdv14-task1"], log=lines.append)
    assert "done before" not in lines[-1]
    assert labels_by_name() != before


def test_verify_copy_names_the_damaged_shard_and_wrong_counts(mirror, tmp_path, capsys):
    from huggingface_hub import DatasetCard

    from tests.hub_copy.test_jobs import flip_in_column

    out = tmp_path / "genimage-cl"
    shutil.copytree(mirror.out, out, ignore=shutil.ignore_patterns(publish.STATE_DIR))
    assert cli_status(["verify-copy", str(out), "--no-progress"]) == 0
    assert capsys.readouterr().out.endswith("0 problem(s)\n")

    shard = out / "data/sdv14/task2/train-00000-of-00001.parquet"
    flip_in_column(shard, "label")
    card = DatasetCard.load(out / "README.md")
    info = next(i for i in card.data["dataset_info"] if i["config_name"] == "sdv14-task4")
    split = next(s for s in info["splits"] if s["name"] == "test")
    split["num_examples"] += 1
    card.save(out / "README.md")
    assert cli_status(["verify-copy", str(out), "--no-progress"]) == 1
    printed = capsys.readouterr().out
    assert ("  problem: data/sdv14/task2/train-00000-of-00001.parquet: damaged: could not verify page integrity, "
            "CRC checksum verification failed") in printed
    assert (f"  problem: config sdv14-task4 test: the card says {split['num_examples']} rows, its shards hold "
            f"{split['num_examples'] - 1} (data/sdv14/task4/test-*)") in printed
    assert printed.endswith("2 problem(s)\n")


def cli_status(argv) -> int:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    return exit_.value.code


# --- the upload against a stand-in Hub (tests/hub_stand_in.py), running the real upload code ---

REPO_ID = "me/genimage-cl"
UNRELATED = {"notes.txt": b"my notes", ".env": b"HF_TOKEN=hf_secret", "photos/cat.jpg": b"\xff\xd8 not shipped"}


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """The stand-in Hub as every HfApi the upload module makes, with a token and the network allowed."""
    stand_in = StandInHub(tmp_path / "hub")
    monkeypatch.setattr(upload, "HfApi", lambda *args, **kwargs: stand_in)
    monkeypatch.setattr(upload, "get_token", lambda: "hf_x")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    return stand_in


def _publish(*args) -> int:
    return cli_status(["publish", *map(str, args)])


def _copy_files(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if p.is_file() and not p.relative_to(out).as_posix().startswith(publish.STATE_DIR + "/"))


def _release_rows(release_root: Path, parts, split: str) -> dict:
    """{(task, source): (X, y)} of the release for ``parts`` (task = position in the config)."""
    return {(position, source): tuple(torch.load(_pair_folder(release_root, g, t, split, source) / f, weights_only=True)
                                      for f in ("X.pt", "y.pt"))
            for position, (g, t) in enumerate(parts) for source in tables.SOURCES}


def _assert_release_rows(ds: datasets.DatasetDict, release_root: Path, parts) -> None:
    for split in ("train", "test"):
        loaded = paper_tensors(ds[split], labels="clsloc")
        expected = _release_rows(release_root, parts, split)
        if len(parts) == 1:  # a one-task config holds its task under its own number
            loaded = {(0, source): value for (_, source), value in loaded.items()}
        assert sorted(loaded) == sorted(expected)
        for key, (x, y) in loaded.items():
            x_release, y_release = expected[key]
            assert torch.equal(x.view(torch.int32), x_release.view(torch.int32)) and torch.equal(y, y_release)


def test_publish_then_republish_with_another_shard_size(small_release, mirror, hub, tmp_path, capsys):
    first = tmp_path / "first" / "genimage-cl"
    shutil.copytree(mirror.out, first)
    assert _publish("--data-dir", small_release, "--out", first, "--repo-id", REPO_ID) == 0
    remote = hub.folder(REPO_ID)
    hub.create_commit(REPO_ID, [CommitOperationAdd("owner/notes.md", b"added by hand")], commit_message="owner")
    first_files = set(hub.list_repo_files(REPO_ID))

    fresh = tmp_path / "fresh" / "genimage-cl"  # another machine: nothing of the first folder
    fresh.mkdir(parents=True)
    for name, content in UNRELATED.items():
        (fresh / name).parent.mkdir(parents=True, exist_ok=True)
        (fresh / name).write_bytes(content)
    capsys.readouterr()
    assert _publish("--data-dir", small_release, "--out", fresh, "--repo-id", REPO_ID, "--max-shard-size", "10KB",
                    "--dry-run") == 0
    printed = capsys.readouterr().out
    planned = [(words[0], words[-1]) for words in map(str.split, printed.splitlines())
               if words[:1] in (["add"], ["delete"])]
    assert len(hub.commits) == 2  # the dry run sent nothing
    assert _publish("--data-dir", small_release, "--out", fresh, "--repo-id", REPO_ID, "--max-shard-size", "10KB") == 0
    sent = [(kind, path) for kind, path, _ in hub.commits[-1].operations]
    assert planned == sent  # the dry run printed the very commit that was sent

    copy = _copy_files(fresh)
    shipped = [f for f in copy if f not in UNRELATED]
    assert sorted(hub.list_repo_files(REPO_ID)) == sorted(shipped + [".gitattributes", "owner/notes.md"])
    old_shards = {f for f in first_files if f.startswith("data/")} - set(shipped)
    assert old_shards and {("delete", f) for f in old_shards} == {op for op in sent if op[0] == "delete"}
    assert len([f for f in shipped if f.startswith("data/sdv14/task3/train-")]) > 1
    for name in ("sdv14-task3", "sdv14", "disjoint"):
        parts = [(p.generator, p.task) for p in mirror.configs[name]]
        loaded = datasets.load_dataset(str(remote), name, cache_dir=str(tmp_path / "cache"))
        _assert_release_rows(loaded, small_release, parts)


def test_dry_run_without_a_listable_remote(small_release, mirror, tmp_path, monkeypatch, capsys):
    out = tmp_path / "genimage-cl"
    shutil.copytree(mirror.out, out)
    (out / ".env").write_bytes(UNRELATED[".env"])
    monkeypatch.setattr(upload, "HfApi", None)  # offline (conftest): no client may be made
    assert _publish("--data-dir", small_release, "--out", out, "--repo-id", REPO_ID, "--dry-run") == 0
    printed = capsys.readouterr().out
    assert "remote not listed (HF_HUB_OFFLINE is set)" in printed and "dry run: nothing uploaded" in printed
    written = (out / "README.md").read_text()  # --repo-id with --dry-run: the card names the future repository
    assert "<user>" not in written and f'repo = "{REPO_ID}"' in written and "card: its snippets say" not in printed
    assert "<user>" in (mirror.out / "README.md").read_text(), "a copy published without --repo-id says <user>"
    adds = [line.split()[2] for line in printed.splitlines() if line.split()[:1] == ["add"]]
    assert sorted(adds) == [p for p, _ in sorted(mirror.files())] and ".env" not in adds
    rows = sum(p.rows() for p in mirror.parts)
    assert f"rows:    {rows:,}" in printed
    assert f"ratio:   {mirror.parquet_bytes() / publish.tensor_bytes(rows):.3f}" in printed
    assert publish.tensor_bytes(rows) == rows * (3 * 64 * 64 * 4 + 8)


def test_stand_in_hub_refuses_what_the_hub_refuses(hub):
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    with pytest.raises(RepositoryNotFoundError):
        hub.repo_info(REPO_ID)
    hub.create_repo(REPO_ID, repo_type="dataset")
    before = hub.list_repo_files(REPO_ID)
    bad_card = CommitOperationAdd("README.md", b"---\nconfigs: [a: b: c]\n---\n")
    for ops in ([CommitOperationAdd("x.txt", b"1"), CommitOperationDelete("missing.txt")], [bad_card]):
        with pytest.raises(HfHubHTTPError, match="400"):
            hub.create_commit(REPO_ID, ops, commit_message="bad")
    assert hub.list_repo_files(REPO_ID) == before == [".gitattributes"]
    with pytest.raises(HfHubHTTPError, match="412"):
        hub.create_commit(REPO_ID, [CommitOperationAdd("x.txt", b"1")], commit_message="stale", parent_commit="0" * 40)
    hub.create_commit(REPO_ID, [CommitOperationAdd("a/x.txt", b"1"), CommitOperationCopy("a/x.txt", "b/y.txt")],
                      commit_message="ok")
    assert (hub.folder(REPO_ID) / "b/y.txt").read_bytes() == b"1"


def test_plan_touches_only_the_copys_folders(mirror):
    remote = upload.Remote(files=[".gitattributes", "README.md", "owner/x.md",
                                  "data/adm/task9/train-00000-of-00002.parquet",
                                  "figures/old.png", "reports/differences.csv", "dataset.py"], revision="abc")
    commit = upload.plan_commit(mirror, remote)
    assert commit.additions == sorted(mirror.files())
    assert commit.deletions == ["data/adm/task9/train-00000-of-00002.parquet", "figures/old.png",
                                "reports/differences.csv"]
    ops = commit.operations(mirror.out)
    assert [type(o).__name__ for o in ops[:3]] == ["CommitOperationDelete"] * 3
    assert {o.path_in_repo for o in ops[3:]} == {p for p, _ in mirror.files()}


# --- culprits named, one writer at a time, README last, no stale shards, a default config ---

def _one_part_release(small_release: Path, root: Path, generator="sdv14", task=0) -> Path:
    for split in ("train", "test"):
        for source in tables.SOURCES:
            shutil.copytree(_pair_folder(small_release, generator, task, split, source),
                            _pair_folder(root, generator, task, split, source))
    return root


def _nan_in_row(root: Path, row: int, generator="sdv14", task=0) -> Path:
    x_path = _pair_folder(root, generator, task, "train", "ai") / "X.pt"
    x = torch.load(x_path, weights_only=True)
    x[row, 1, 5, 7] = float("nan")
    torch.save(x, x_path)
    return x_path


def test_nan_row_is_one_line_naming_file_and_row(small_release, tmp_path, capsys):
    x_path = _nan_in_row(_one_part_release(small_release, tmp_path / "release"), 1)
    assert _publish("--data-dir", tmp_path / "release", "--out", tmp_path / "out") == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line.lower()]
    assert errors == [f"error: {x_path}: row 1 is not the release pipeline's output: re-normalizing its uint8 pixels "
                      f"does not give back X bit for bit (an edited or re-saved tensor?); refusing to store a "
                      f"rounded copy"]
    assert not (tmp_path / "out" / "README.md").exists() and not (tmp_path / "out" / "data").exists()


def test_download_and_prepare_names_the_file(small_release, tmp_path, monkeypatch):
    from conversion.builder import genimage_cl

    x_path = _nan_in_row(_one_part_release(small_release, tmp_path / "release"), 1)
    monkeypatch.setattr(genimage_cl, "_ITEMS_PER_SHARD", 1)
    builder = genimage_cl.GenImageCL(config_name="sdv14-task0", data_dir=str(tmp_path / "release"),
                                     cache_dir=str(tmp_path / "cache"))
    with pytest.raises(culprits.ExampleError, match=rf"^{re.escape(str(x_path))}: row 1 is not the release"):
        builder.download_and_prepare()


def test_download_and_prepare_names_the_file_from_worker_processes(small_release, tmp_path):
    """Run in a fresh interpreter: forking after this process ran torch ops can hang the workers."""
    x_path = _nan_in_row(_one_part_release(small_release, tmp_path / "release"), 1)
    code = ("import sys\nfrom conversion.builder import genimage_cl\n"
            "genimage_cl._ITEMS_PER_SHARD = 1  # several shards, so two worker processes\n"
            "builder = genimage_cl.GenImageCL(config_name='sdv14-task0', data_dir=sys.argv[1], cache_dir=sys.argv[2])\n"
            "try:\n    builder.download_and_prepare(num_proc=2)\n"
            "except Exception as err:\n    print(type(err).__name__, err)\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "release"), str(tmp_path / "cache")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.startswith(f"ExampleError {x_path}: row 1 is not the release pipeline's output"), (
        done.stderr[-2000:])


def test_any_error_while_generating_names_the_row(small_release, tmp_path, monkeypatch):
    """An exception the source does not name itself (here a MemoryError while encoding) gets file and row."""
    from conversion.builder import genimage_cl
    from conversion.pixels import release_pipeline

    _one_part_release(small_release, tmp_path / "release")
    encode, calls = release_pipeline.png_bytes, []

    def failing_second(image):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("cannot allocate 12 GB")
        return encode(image)

    monkeypatch.setattr(release_pipeline, "png_bytes", failing_second)
    builder = genimage_cl.GenImageCL(config_name="sdv14-task0", data_dir=str(tmp_path / "release"),
                                     cache_dir=str(tmp_path / "cache"))
    with pytest.raises(culprits.ExampleError, match=r"/X\.pt row \d+: MemoryError: cannot allocate 12 GB$") as err:
        builder.download_and_prepare()
    x_path, row = re.match(r"^(.*) row (\d+):", str(err.value)).groups()
    first_file = builder._source.split_plan("train", [("sdv14", 0)]).items[:2]
    assert (x_path, int(row)) == (first_file[1].path, first_file[1].index)


def test_second_publish_fails_at_once_naming_folder_and_holder(small_release, tmp_path, capsys):
    out = tmp_path / "genimage-cl"
    holder = hold_lock(out, 60)
    try:
        assert _publish("--data-dir", small_release, "--out", out) == 1
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"error: {out.resolve()} is being written by another publish (pid {holder.pid} on ")
    assert "--wait-lock" in err[0]
    assert not (out / "data").exists()


def test_wait_lock_waits_for_the_holder(small_release, mirror, tmp_path):
    out = tmp_path / "genimage-cl"
    shutil.copytree(mirror.out, out)
    holder = hold_lock(out, 2)
    lines = []
    publish.build_mirror(kinds.open_source(small_release), out, log=lines.append, wait_lock=True)
    assert holder.wait() == 0
    assert "waiting" in lines[0] and f"pid {holder.pid}" in lines[0]
    assert (out / "README.md").read_text() == (mirror.out / "README.md").read_text()


def test_killed_republish_leaves_no_card_disagreeing_with_shards(small_release, mirror, tmp_path, monkeypatch):
    """The source changed (sdv14 task 1 lost its last train rows); the re-publish is killed after rebuilding it."""
    release = tmp_path / "release"
    shutil.copytree(small_release, release)
    out = tmp_path / "genimage-cl"
    shutil.copytree(mirror.out, out)
    folder = _pair_folder(release, "sdv14", 1, "train", "ai")
    for name in ("X.pt", "y.pt"):
        torch.save(torch.load(folder / name, weights_only=True)[:-1].clone(), folder / name)
    build_part = publish.build_part

    def killed_after(*args, **kwargs):
        build_part(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(publish, "build_part", killed_after)
    with pytest.raises(KeyboardInterrupt):
        publish.build_mirror(kinds.open_source(release), out, log=lambda line: None)
    assert not (out / "README.md").exists()  # no card, rather than one declaring the old row counts
    monkeypatch.setattr(publish, "build_part", build_part)
    again = publish.build_mirror(kinds.open_source(release), out, log=lambda line: None)
    declared = _infos(_card(again))["sdv14-task1"]["splits"][0]["num_examples"]
    assert declared == mirror.configs["sdv14-task1"][0].splits["train"]["num_examples"] - 1
    monkeypatch.chdir(out.parent)
    loaded = datasets.load_dataset(out.name, "sdv14-task1", split="train", cache_dir=str(tmp_path / "cache"))
    assert len(loaded) == declared


def test_card_is_refused_when_a_shard_does_not_match(mirror, tmp_path):
    out = tmp_path / "genimage-cl"
    shutil.copytree(mirror.out, out)
    part = mirror.configs["sdv14-task2"][0]
    with pytest.raises(RuntimeError, match=r"test shards hold 0 rows, sdv14-task2 declares"):
        part.splits["test"] = {**part.splits["test"], "files": []}
        part.check_shards(out)


def test_local_folder_keeps_no_stale_shards(small_release, mirror, tmp_path):
    out = tmp_path / "genimage-cl"
    shutil.copytree(mirror.out, out)
    (out / "data" / "wukong" / "task0").mkdir(parents=True)
    (out / "data" / "wukong" / "task0" / "train-00000-of-00001.parquet").write_bytes(b"old part")
    publish.records(out).claim("wukong-task0", ["data/wukong/task0/train-00000-of-00001.parquet"])  # a run wrote it
    rebuilt = publish.build_mirror(kinds.open_source(small_release), out, max_shard_size="10KB", log=lambda line: None)
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / "data").rglob("*") if p.is_file())
    assert on_disk == sorted(f["path"] for p in rebuilt.parts for f in p.all_files())
    assert not any(name.endswith("-of-00001.parquet") for name in on_disk if "sdv14/task3" in name)
    assert not (out / "data" / "wukong").exists()


def test_default_config_is_disjoint(mirror, load, small_release):
    card = _card(mirror)
    assert [c["config_name"] for c in card["configs"] if c.get("default")] == ["disjoint"]
    assert "The default configuration is `disjoint` (GenImage-Disjoint" in (mirror.out / "README.md").read_text()
    unnamed = load()
    _assert_release_rows(unnamed, small_release, DISJOINT_PARTS)
    assert unnamed["test"]["file_name"] == load("disjoint", split="test")["file_name"]


def test_default_config_without_disjoint(small_release, tmp_path, monkeypatch):
    for generator, task in (("glide", 3), ("sdv14", 0)):
        _one_part_release(small_release, tmp_path / "release", generator, task)
    out = publish.build_mirror(kinds.open_source(tmp_path / "release"), tmp_path / "copy", log=lambda line: None).out
    card = _card(SimpleNamespace(out=out))
    assert [c["config_name"] for c in card["configs"]] == ["glide-task3", "sdv14-task0"]
    assert [c["config_name"] for c in card["configs"] if c.get("default")] == ["glide-task3"]
    assert "this copy does not hold every part of `disjoint`" in (out / "README.md").read_text()
    monkeypatch.chdir(out.parent)
    loaded = datasets.load_dataset(out.name, split="test", cache_dir=str(tmp_path / "cache"))
    assert set(loaded["task"]) == {3} and len(loaded) > 0


def test_dry_run_listing_of_a_missing_repository(hub, monkeypatch):
    new = upload.list_remote_read_only(REPO_ID)
    assert new.files == [] and new.not_listed == "repository not found: it will be created, nothing to delete"
    monkeypatch.setattr(upload, "get_token", lambda: None)
    unknown = upload.list_remote_read_only(REPO_ID)
    assert unknown.files is None and "without a token" in unknown.not_listed
    hub.create_repo(REPO_ID)
    listed = upload.list_remote_read_only(REPO_ID)
    assert listed.files == [".gitattributes"] and listed.revision == hub.repo_info(REPO_ID).sha


@pytest.mark.parametrize("write", [None, publish.write_float_parquet], ids=["to_parquet", "float_parquet"])
def test_a_row_larger_than_the_shard_size_is_a_shard_of_its_own(tmp_path, write):
    """--max-shard-size below one row (a corrupted copy's float rows are about 49 KB): one row per shard, no more."""
    import pyarrow.parquet as pq

    from conversion.builder import corrupted_rows

    features = datasets.Features({corrupted_rows.COLUMN: datasets.Array3D((3, 8, 8), "float32"),
                                  "file_name": datasets.Value("string")})
    rows = {corrupted_rows.COLUMN: [[[[float(i)] * 8] * 8] * 3 for i in range(5)],
            "file_name": [f"{i}.png" for i in range(5)]}
    ds = datasets.Dataset.from_dict(rows, features=features)
    files = publish.write_shards(ds, tmp_path, "test", max_shard_size=100, write=write)
    assert [f["name"] for f in files] == [f"test-{i:05d}-of-00005.parquet" for i in range(5)]
    names = [pq.read_table(tmp_path / f["name"], columns=["file_name"]).column(0).to_pylist() for f in files]
    assert names == [[f"{i}.png"] for i in range(5)]


def test_an_empty_split_is_one_empty_shard(tmp_path):
    import pyarrow.parquet as pq

    features = datasets.Features({"file_name": datasets.Value("string")})
    ds = datasets.Dataset.from_dict({"file_name": []}, features=features)
    files = publish.write_shards(ds, tmp_path, "train", max_shard_size=1)
    assert [f["name"] for f in files] == ["train-00000-of-00001.parquet"]
    assert pq.ParquetFile(tmp_path / files[0]["name"]).metadata.num_rows == 0


def test_a_figure_that_cannot_be_drawn_is_left_out_of_the_card_with_one_warning(small_release, mirror, tmp_path,
                                                                                 monkeypatch):
    from conversion.hub_copy import figure_drawing

    out = tmp_path / "genimage-cl"
    shutil.copytree(mirror.out, out)
    chart, grid = figure_drawing.balance_chart, figure_drawing.sample_grid

    def failing_chart(counts, title, path):
        if path.name == "balance-sdv14-task2.png":
            raise ValueError("y1 must be greater than or equal to y0")
        return chart(counts, title, path)

    def failing_grid(dataset, generator, path, pairs=8):
        if generator == "sdv14":
            raise OSError("broken font")
        return grid(dataset, generator, path, pairs)

    figures = {p.relative_to(out).as_posix() for p in (out / "figures").glob("*.png")}
    monkeypatch.setattr(figure_drawing, "balance_chart", failing_chart)
    monkeypatch.setattr(figure_drawing, "sample_grid", failing_grid)
    lines = []
    rebuilt = publish.build_mirror(kinds.open_source(small_release), out, log=lines.append)
    warnings = [line for line in lines if line.startswith("warning:")]
    assert warnings == ["warning: card figure figures/samples-sdv14.png left out: OSError: broken font",
                        "warning: card figure figures/balance-sdv14-task2.png left out: ValueError: y1 must be "
                        "greater than or equal to y0"]
    assert not (out / "figures" / "balance-sdv14-task2.png").exists()
    assert not (out / "figures" / "samples-sdv14.png").exists()
    card_text = (out / "README.md").read_text()
    assert "balance-sdv14-task2.png" not in card_text and "samples-sdv14.png" not in card_text
    assert "figures/balance-sdv14-task1.png" in card_text and "figures/samples-adm.png" in card_text
    assert "No sample grid" not in card_text
    assert {path for path, _ in rebuilt.files() if path.startswith("figures/")} == figures - {
        "figures/balance-sdv14-task2.png", "figures/samples-sdv14.png"}


def test_a_folder_in_place_of_a_figure_is_left_alone_and_the_figure_left_out(small_release, mirror, tmp_path):
    out = tmp_path / "genimage-cl"
    shutil.copytree(mirror.out, out)
    blocked = out / "figures" / "balance-sdv14-task1.png"
    blocked.unlink()
    (blocked / "mine").mkdir(parents=True)
    (out / "figures" / "corruptions.png").mkdir()  # no corrupted copy: no such figure, and the folder stays
    lines = []
    publish.build_mirror(kinds.open_source(small_release), out, log=lines.append)
    warnings = [line for line in lines if line.startswith("warning:")]
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: card figure figures/balance-sdv14-task1.png left out: IsADirectoryError: ")
    assert (blocked / "mine").is_dir() and (out / "figures" / "corruptions.png").is_dir()
    assert not list((out / "figures").glob(".*"))
    assert "balance-sdv14-task1.png" not in (out / "README.md").read_text()


def test_a_parts_build_warning_names_the_report_publish_keeps(sample_root, tmp_path, caplog):
    """publish builds each part in a cache it deletes: the summary line names the report where publish keeps it."""
    from conversion.builder import build_report

    root = tmp_path / "one"
    shutil.copytree(sample_root / "stable_diffusion_v_1_4", root / "stable_diffusion_v_1_4")
    broken = next(root.rglob(f"train/ai/{tables.task_classes()[3][0]:03d}_sdv4_*.png"))
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not a png" * 10)
    out = tmp_path / "copy"
    with caplog.at_level("WARNING", logger=build_report.__name__):
        publish.build_parts_only(kinds.open_source(root), out, ["sdv14-task3"], log=lambda line: None)
    final = out / publish.STATE_DIR / "reports" / "sdv14-task3.json"
    [warning] = [r.getMessage() for r in caplog.records if r.name == build_report.__name__]
    assert " 1 skipped " in warning and warning.endswith(f"; report: {final}")
    assert build_report.load(final)["skipped"][0]["path"].endswith(broken.name)
