"""Publish's jobs, one per part (generator-task), as a cluster job array runs them: the numbered list,
each job alone (the Hub layout, idempotent, nothing half-written), and the copy a final plain run
writes, byte for byte the one a single run writes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from conversion import cli
from conversion.builder import build_report
from conversion.hub_copy import parts, publish
from conversion.sources import kinds

ROOT = Path(__file__).resolve().parents[2]


def _main(*args) -> int:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*map(str, args)])
    return exit_.value.code


def _quiet(line: str) -> None:
    pass


@pytest.fixture
def one_generator(sample_root, tmp_path) -> Path:
    """sdv14's generator folder alone: six parts."""
    root = tmp_path / "GenImage"
    shutil.copytree(sample_root / "stable_diffusion_v_1_4", root / "stable_diffusion_v_1_4")
    return root


def test_shards_are_named_and_sized_as_push_to_hub_does():
    assert parts.shard_name("train", 3, 12) == "train-00003-of-00012.parquet"
    assert parts.SHARD_NAME.match(parts.shard_name("test", 0, 1)).groupdict() == {
        "split": "test", "index": "00000", "total": "00001"}
    assert parts.MAX_SHARD_SIZE == datasets.config.MAX_SHARD_SIZE
    assert parts.SPLITS == ("train", "test")
    assert parts.part_dir("sdv14", 3) == f"{parts.DATA}/sdv14/task3"


@pytest.fixture(scope="module")
def two_parts(sample_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("parquet_out") / "copy"
    return out, publish.build_parts_only(kinds.open_source(sample_root), out, ["sdv14-task3", "adm-task0"], log=_quiet)


def test_jobs_write_the_hub_layout_with_the_builder_rows(two_parts, build, sample_root):
    out, built_parts = two_parts
    assert [p.name for p in built_parts] == ["sdv14-task3", "adm-task0"]
    assert not (out / parts.CARD).exists()
    assert not any((out / publish.STATE_DIR / "staging").glob("*"))
    for part in built_parts:
        built = build(part.name, sample_root)
        for split in parts.SPLITS:
            files = part.splits[split]["files"]
            folder = parts.part_dir(part.generator, part.task)
            assert [f["path"] for f in files] == [f"{folder}/{split}-00000-of-00001.parquet"]
            loaded = datasets.load_dataset("parquet", data_files=str(out / files[0]["path"]), split="train")
            assert part.splits[split]["num_examples"] == len(built[split]) == len(loaded) > 0
            assert loaded.features == built[split].features
            assert loaded["file_name"] == built[split]["file_name"]
            assert loaded.cast_column("image", datasets.Image(decode=False))["image"][0]["bytes"] == (
                built[split].cast_column("image", datasets.Image(decode=False))["image"][0]["bytes"])
        report = build_report.load(parts.report_path(out, part.generator, part.task))
        assert build_report.sums(report)["kept"] == part.rows()
        manifest = json.loads(parts.manifest_path(out, part.generator, part.task).read_text())
        assert (manifest["image_size"], manifest["check"]) == (64, "decode")


def test_job_shards_carry_page_checksums(two_parts, tmp_path):
    from conversion.hub_copy import verify_copy

    out = tmp_path / "copy"
    shutil.copytree(two_parts[0], out)
    result = verify_copy.verify(out, progress=False)
    assert not result.problems and len(result.rows) == 4
    assert result.notes == [f"no README.md in {out}: page checksums checked, row counts not compared with a card"]
    shard = sorted((out / "data").rglob("*.parquet"))[0]
    flip_in_column(shard, "label")
    with pytest.raises(OSError, match="CRC checksum verification failed"):
        verify_copy.shard_rows(shard)


def test_a_rerun_keeps_a_finished_job_and_rebuilds_a_changed_or_damaged_one(one_generator, tmp_path):
    out = tmp_path / "copy"
    lines = []
    (first,) = publish.build_parts_only(kinds.open_source(one_generator), out, ["sdv14-task3"], log=lines.append)
    lines.clear()
    publish.build_parts_only(kinds.open_source(one_generator), out, ["sdv14-task3"], log=lines.append)
    assert lines == [f"part 1 of 1: sdv14-task3: done before ({first.rows()} rows), kept"]
    lines.clear()
    (again,) = publish.build_parts_only(kinds.open_source(one_generator), out, ["sdv14-task3"], max_shard_size=1,
                                        log=lines.append)
    assert lines[0] == "part 1 of 1: sdv14-task3: building" and again.rows() == first.rows()
    folder = out / "data/sdv14/task3"
    assert sorted(p.name for p in folder.glob("train-*")) == [parts.shard_name("train", i, 4) for i in range(4)]
    assert not (folder / "train-00000-of-00001.parquet").exists()
    (folder / "train-00001-of-00004.parquet").unlink()
    with pytest.raises(RuntimeError, match=r"train-00001-of-00004.parquet: missing or not the [0-9,]+ bytes "
                                           r"sdv14-task3 wrote; re-run publish"):
        again.check_shards(out)
    lines.clear()
    publish.build_parts_only(kinds.open_source(one_generator), out, ["sdv14-task3"], max_shard_size=1, log=lines.append)
    assert lines[0] == "part 1 of 1: sdv14-task3: building"
    assert (folder / "train-00001-of-00004.parquet").is_file()


def test_list_jobs_then_each_job_index_alone(sample_root, tmp_path, capsys):
    assert _main("publish", "--data-dir", sample_root, "--list-jobs") == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 8 * 6 and listed[0] == "0 adm-task0" and listed[27] == "27 sdv14-task3"
    out = tmp_path / "copy"
    assert _main("publish", "--data-dir", sample_root, "--out", out, "--job-index", "27", "--no-progress") == 0
    assert sorted(p.relative_to(out).as_posix() for p in (out / "data").glob("*/*")) == ["data/sdv14/task3"]
    assert not (out / parts.CARD).exists()
    capsys.readouterr()
    assert _main("publish", "--data-dir", sample_root, "--out", out, "--job-index", "48") == 1
    assert capsys.readouterr().err.strip() == (f"error: job index 48 out of range: {sample_root} holds 48 parts "
                                               f"(0..47)")
    assert _main("publish", "--data-dir", sample_root, "--out", out, "--job-index", "27", "--repo-id", "me/x") == 1
    assert "build parts only; upload with a final run without them" in capsys.readouterr().err


@pytest.fixture(scope="module")
def small_sources(tmp_path_factory):
    """A raw tree of two generators (one class per task) and the tensor release made from it: twelve parts each."""
    from conversion.samples.genimage_tree import make_sample_tree
    from conversion.samples.tensor_release import make_sample_release

    root = tmp_path_factory.mktemp("job_array")
    tree = make_sample_tree(root / "GenImage", generators=["adm", "sdv14"], classes_per_task=1)
    return {"raw": tree, "release": make_sample_release(tree, root / "release", generators=["adm", "sdv14"])}


def _shipped(out: Path) -> dict[str, bytes]:
    """Every file of the copy but the run's own state: the card, data/, figures/, reports/."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.relative_to(out).as_posix().startswith(f"{publish.STATE_DIR}/")}


@pytest.mark.parametrize("kind", ["raw", "release"])
def test_a_job_array_then_a_plain_publish_is_byte_for_byte_a_single_publish(small_sources, tmp_path, capsys, kind):
    source = small_sources[kind]
    single, array = tmp_path / "single" / "genimage-cl", tmp_path / "array" / "genimage-cl"
    assert _main("publish", "--data-dir", source, "--out", single, "--no-progress") == 0
    capsys.readouterr()
    assert _main("publish", "--data-dir", source, "--list-jobs") == 0
    jobs = [line.split(" ") for line in capsys.readouterr().out.splitlines()]
    assert [index for index, _ in jobs] == [str(i) for i in range(12)]
    for index, name in reversed(jobs):  # any order: each job builds its own part
        assert _main("publish", "--data-dir", source, "--out", array, "--job-index", index, "--no-progress") == 0
        assert capsys.readouterr().out.splitlines()[0] == f"part 1 of 1: {name}: building"
    assert not (array / parts.CARD).exists()
    assert _main("publish", "--data-dir", source, "--out", array, "--no-progress") == 0
    log = capsys.readouterr().out.splitlines()
    steps = [line for line in log if line.startswith("part ")]
    assert [line.split(": ")[1] for line in steps] == [name for _, name in jobs]
    assert all(re.fullmatch(r"part \d+ of 12: \S+: done before \(\d+ rows\), kept", line) for line in steps), steps
    assert not any(line.endswith(": building") for line in log)
    shipped = _shipped(array)
    assert shipped == _shipped(single)
    assert {path.split("/")[0] for path in shipped} == {"README.md", "data", "figures"} | (
        {"reports"} if kind == "raw" else set())
    assert len([path for path in shipped if path.startswith("data/")]) == 12 * 2


def test_one_split_config_builds_only_that_split(build, sample_root):
    only_test = build("sdv14-task3", sample_root, splits=("test",))
    assert list(only_test) == ["test"]
    assert only_test["test"]["file_name"] == build("sdv14-task3", sample_root)["test"]["file_name"]
    with pytest.raises(ValueError, match="splits"):
        build("sdv14-task3", sample_root, splits=("validation",))


def test_even_shards_keep_order_and_balance():
    from conversion.builder.genimage_cl import _even_shards

    for n in (0, 7, 250, 2856, 16001):
        shards = _even_shards(list(range(n)))
        assert [i for shard in shards for i in shard] == list(range(n))
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
        assert max(map(len, shards)) <= 1000
    assert len(_even_shards(list(range(2856)))) == 16


def test_shards_balance_file_bytes_not_counts():
    """Items sorted by source put the big AI PNGs together: count-equal shards would give one
    process of two most of the bytes."""
    from conversion.builder.genimage_cl import _even_shards, _file_bytes
    from conversion.sources.raw_tree import Item

    sizes = [466_000] * 1500 + [136_000] * 1500
    items = [Item(0, 0, 0, f"{i:05d}.png", "sdv14", f"/x/{i:05d}.png", size=s) for i, s in enumerate(sizes)]
    shards = _even_shards(items, _file_bytes)
    assert [i for shard in shards for i in shard] == items and len(shards) == 16 and all(shards)
    totals = [sum(item.size for item in shard) for shard in shards]
    assert max(totals) - min(totals) <= 2 * max(sizes)
    halves = sum(totals[:8]), sum(totals[8:])
    assert max(halves) / min(halves) < 1.01
    unbalanced = _even_shards(items)
    assert sum(item.size for shard in unbalanced[:8] for item in shard) / sum(sizes) > 0.7
    tensor_rows = [item._replace(size=0) for item in items]
    assert list(map(len, _even_shards(tensor_rows, _file_bytes))) == list(map(len, unbalanced))
    one_giant = [items[0]._replace(size=10**12)] + items[1:40]
    assert all(_even_shards(one_giant, _file_bytes))


RANK_SCRIPT = """
import json, sys
import datasets, torch
from datasets.distributed import split_dataset_by_node
rank, world, pattern = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ds = datasets.load_dataset("parquet", data_files=pattern, split="train", streaming=True)
ds = split_dataset_by_node(ds, rank=rank, world_size=world).select_columns(["file_name", "label"])
loader = torch.utils.data.DataLoader(ds.with_format("torch"), batch_size=None, num_workers=2)
print(json.dumps({"shards": ds.num_shards, "names": [row["file_name"] for row in loader]}))
"""


def test_streaming_ranks_read_disjoint_covering_parts(one_generator, tmp_path):
    """Two processes as two ranks, each with two DataLoader workers, over a four-shard split."""
    import pyarrow.parquet as pq

    (part,) = publish.build_parts_only(kinds.open_source(one_generator), tmp_path / "copy", ["sdv14-task3"],
                                       max_shard_size=1, log=_quiet)
    files = [tmp_path / "copy" / f["path"] for f in part.splits["train"]["files"]]
    assert len(files) == part.splits["train"]["num_examples"] == 4
    pattern = str(tmp_path / "copy" / "data/sdv14/task3/train-*.parquet")
    ranks = [
        subprocess.Popen([sys.executable, "-c", RANK_SCRIPT, str(rank), "2", pattern], stdout=subprocess.PIPE,
                         text=True, cwd=ROOT)
        for rank in range(2)
    ]
    results = [json.loads(rank.communicate(timeout=300)[0].splitlines()[-1]) for rank in ranks]
    assert all(rank.returncode == 0 for rank in ranks)
    names = [r["names"] for r in results]
    everything = [name for f in files for name in pq.read_table(f, columns=["file_name"])["file_name"].to_pylist()]
    assert all(names), "each rank reads something"
    assert not set(names[0]) & set(names[1])
    assert sorted(names[0] + names[1]) == sorted(everything)
    assert [r["shards"] for r in results] == [2, 2], "four shards: each rank reads two whole shards"


def flip_in_column(shard: Path, column: str) -> None:
    """Flip one bit near the end of the first row group's ``column`` chunk (inside its last page)."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(shard).row_group(0)
    chunk = next(meta.column(i) for i in range(meta.num_columns) if meta.column(i).path_in_schema == column)
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    data = bytearray(shard.read_bytes())
    data[start + chunk.total_compressed_size - 2] ^= 0x01
    shard.write_bytes(bytes(data))


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["disk_full", "interrupted"])
def test_a_failed_job_leaves_nothing_half_written_and_its_retry_builds(one_generator, tmp_path, monkeypatch, failure):
    out = tmp_path / "copy"
    write_shards, calls = publish.write_shards, []

    def failing_second(*args, **kwargs):  # the train shards are staged, then the test split fails
        calls.append(1)
        if len(calls) == 2:
            raise failure
        return write_shards(*args, **kwargs)

    monkeypatch.setattr(publish, "write_shards", failing_second)
    with pytest.raises(type(failure)):
        publish.build_parts_only(kinds.open_source(one_generator), out, ["sdv14-task3"], log=_quiet)
    assert calls == [1, 1]
    assert not (out / "data").exists() and not parts.manifest_path(out, "sdv14", 3).exists()
    state = out / publish.STATE_DIR
    assert not any((state / "staging").glob("*")) and not any((state / "cache").glob("*"))
    monkeypatch.setattr(publish, "write_shards", write_shards)
    lines = []
    (part,) = publish.build_parts_only(kinds.open_source(one_generator), out, ["sdv14-task3"], log=lines.append)
    assert lines[0] == "part 1 of 1: sdv14-task3: building" and part.complete_in(out)
