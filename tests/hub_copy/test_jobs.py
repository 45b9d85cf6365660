"""Build jobs per (generator, task, split) into one Parquet layout, assembled and checked."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from conversion import cli
from conversion.builder import build_report
from conversion.contract import tables
from conversion.hub_copy import jobs

ROOT = Path(__file__).resolve().parents[2]


def test_job_list_covers_every_generator_task_and_split_once():
    every = jobs.all_jobs()
    assert len(every) == len(set(every)) == 8 * 6 * 2
    assert every == sorted(every)
    disjoint = jobs.jobs_for(["disjoint"])
    assert {(j.generator, j.task) for j in disjoint} == {(g, t) for t, g in enumerate(tables.task_order())}
    assert jobs.jobs_for(["sdv14-task3"], ("train",)) == [jobs.Job("sdv14", 3, "train")]
    with pytest.raises(ValueError, match="unknown config"):
        jobs.jobs_for(["sdv14-task9"])


@pytest.fixture(scope="module")
def assembled(sample_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("parquet_out")
    for job in jobs.jobs_for(["sdv14-task3", "adm-task0"]):
        jobs.run_job(job, sample_root, out)
    return out


def test_jobs_write_the_hub_layout_with_the_builder_rows(assembled, build, sample_root):
    parts = jobs.collect_parts(assembled)
    assert [(p.config, p.split) for p in parts] == [
        ("adm-task0", "test"), ("adm-task0", "train"), ("sdv14-task3", "test"), ("sdv14-task3", "train")
    ]
    assert not (assembled / jobs.STAGING).exists()
    for part in parts:
        assert [f.name for f in part.files] == [f"{part.split}-00000-of-00001.parquet"]
        assert part.files[0].parent == assembled / "data" / part.generator / f"task{part.task}"
        loaded = datasets.load_dataset("parquet", data_files=str(assembled / part.data_files()), split="train")
        built = build(part.config, sample_root)[part.split]
        assert part.num_rows == len(built) == len(loaded) > 0
        report = build_report.load(jobs.report_folder(assembled, jobs.Job(part.generator, part.task, part.split))
                                   / build_report.REPORT_FILE)
        assert build_report.sums(report)["kept"] == part.num_rows
        assert loaded.features == built.features
        assert loaded["file_name"] == built["file_name"]
        assert loaded.cast_column("image", datasets.Image(decode=False))["image"][0]["bytes"] == (
            built.cast_column("image", datasets.Image(decode=False))["image"][0]["bytes"]
        )


def test_rerun_replaces_shards_and_gaps_are_detected(sample_root, tmp_path):
    job = jobs.Job("sdv14", 3, "train")
    jobs.run_job(job, sample_root, tmp_path)
    first = jobs.collect_parts(tmp_path)[0]
    jobs.run_job(job, sample_root, tmp_path, max_shard_size=1, row_group_size=1)
    again = jobs.collect_parts(tmp_path)
    assert len(again) == 1 and again[0].num_rows == first.num_rows
    assert len(again[0].files) > 1
    assert not (job.folder(tmp_path) / "train-00000-of-00001.parquet").exists()
    again[0].files[1].unlink()
    with pytest.raises(jobs.IncompletePart, match="re-run its job"):
        jobs.collect_parts(tmp_path)


def test_build_and_assemble_commands(sample_root, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["build", "--generators", "sdv14", "--list-jobs"])
    assert exit_.value.code == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[7] == "7\tsdv14-task3\ttrain"
    with pytest.raises(SystemExit) as exit_:
        cli.main(["build", "--data-dir", str(sample_root), "--out", str(tmp_path), "--generators", "sdv14",
                  "--job-index", "7"])
    assert exit_.value.code == 0
    with pytest.raises(SystemExit) as exit_:
        cli.main(["assemble", "--out", str(tmp_path), "--generators", "sdv14"])
    out = capsys.readouterr().out
    assert exit_.value.code == 1
    assert "sdv14-task3" in out and "missing 11 job(s)" in out
    with pytest.raises(SystemExit) as exit_:
        cli.main(["build", "--data-dir", str(sample_root), "--out", str(tmp_path), "--job-index", "96"])
    assert exit_.value.code == 1


def _main(*args) -> int:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*map(str, args)])
    return exit_.value.code


def test_build_keeps_a_finished_part_unless_overwrite(sample_root, tmp_path, capsys):
    args = ("build", "--no-progress", "--data-dir", sample_root, "--out", tmp_path, "--config", "sdv14-task3",
            "--split", "train")
    assert _main(*args) == 0
    shard = jobs.Job("sdv14", 3, "train").folder(tmp_path) / "train-00000-of-00001.parquet"
    built = shard.stat().st_mtime_ns
    capsys.readouterr()
    assert _main(*args) == 0
    assert capsys.readouterr().out.strip() == (
        f"[1/1] sdv14-task3 train: already in {shard.parent}, skipped (--overwrite rebuilds it)")
    assert shard.stat().st_mtime_ns == built
    assert _main(*args, "--overwrite") == 0
    assert shard.stat().st_mtime_ns != built


def test_assemble_fails_on_a_missing_empty_or_file_folder_and_mixed_sizes(sample_root, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    (tmp_path / "empty").mkdir()
    for folder, message in ((tmp_path / "missing", "is missing, not the output folder of build jobs"),
                            (tmp_path / "file", "is a file, not the output folder of build jobs"),
                            (tmp_path / "empty", "holds no parts")):
        assert _main("assemble", "--out", folder) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: --out {folder} ") and message in err[0]
    out = tmp_path / "mixed"
    for split, size in (("train", "64"), ("test", "32")):
        assert _main("build", "--no-progress", "--data-dir", sample_root, "--out", out, "--config", "sdv14-task3",
                     "--split", split, "--image-size", size) == 0
    capsys.readouterr()
    assert _main("assemble", "--out", out) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "built at different image sizes" in err[0]
    assert "64: sdv14-task3 train" in err[0] and "32: sdv14-task3 test" in err[0]


def test_one_split_config_builds_only_that_split(build, sample_root):
    only_test = build("sdv14-task3", sample_root, splits=("test",))
    assert list(only_test) == ["test"]
    assert only_test["test"]["file_name"] == build("sdv14-task3", sample_root)["test"]["file_name"]
    with pytest.raises(ValueError, match="splits"):
        build("sdv14-task3", sample_root, splits=("validation",))


def test_even_shards_keep_order_and_balance():
    from genimage_cl import _even_shards

    for n in (0, 7, 250, 2856, 16001):
        shards = _even_shards(list(range(n)))
        assert [i for shard in shards for i in shard] == list(range(n))
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
        assert max(map(len, shards)) <= 1000
    assert len(_even_shards(list(range(2856)))) == 16


def test_shards_balance_file_bytes_not_counts():
    """Items sorted by source put the big AI PNGs together: count-equal shards would give one
    process of two most of the bytes."""
    from genimage_cl import _even_shards, _file_bytes
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


def test_streaming_ranks_read_disjoint_covering_parts(sample_root, tmp_path):
    """Two processes as two ranks, each with two DataLoader workers, over a four-shard split."""
    import pyarrow.parquet as pq

    job = jobs.Job("sdv14", 3, "train")
    jobs.run_job(job, sample_root, tmp_path, max_shard_size=1, row_group_size=1)
    part = jobs.collect_parts(tmp_path)[0]
    assert len(part.files) == part.num_rows == 4
    pattern = str(tmp_path / part.data_files())
    ranks = [
        subprocess.Popen([sys.executable, "-c", RANK_SCRIPT, str(rank), "2", pattern], stdout=subprocess.PIPE,
                         text=True, cwd=ROOT)
        for rank in range(2)
    ]
    results = [json.loads(rank.communicate(timeout=300)[0].splitlines()[-1]) for rank in ranks]
    assert all(rank.returncode == 0 for rank in ranks)
    names = [r["names"] for r in results]
    everything = [name for f in part.files for name in pq.read_table(f, columns=["file_name"])["file_name"].to_pylist()]
    assert all(names), "each rank reads something"
    assert not set(names[0]) & set(names[1])
    assert sorted(names[0] + names[1]) == sorted(everything)
    assert [r["shards"] for r in results] == [2, 2], "four shards: each rank reads two whole shards"


def test_job_shards_carry_page_checksums(assembled):
    from conversion.hub_copy import verify_copy

    result = verify_copy.verify(assembled, progress=False)
    assert not result.problems and len(result.rows) == 4
    assert result.notes == [f"no README.md in {assembled}: page checksums checked, row counts not compared with a card"]
    shard = sorted((assembled / "data").rglob("*.parquet"))[0]
    flip_in_column(shard, "label")
    with pytest.raises(OSError, match="CRC checksum verification failed"):
        verify_copy.shard_rows(shard)


def flip_in_column(shard: Path, column: str) -> None:
    """Flip one bit near the end of the first row group's ``column`` chunk (inside its last page)."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(shard).row_group(0)
    chunk = next(meta.column(i) for i in range(meta.num_columns) if meta.column(i).path_in_schema == column)
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    data = bytearray(shard.read_bytes())
    data[start + chunk.total_compressed_size - 2] ^= 0x01
    shard.write_bytes(bytes(data))


def _one_generator_tree(sample_root, tmp_path, generator="stable_diffusion_v_1_4") -> Path:
    root = tmp_path / "GenImage"
    shutil.copytree(sample_root / generator, root / generator)
    return root


def test_a_failed_job_removes_its_staging_folder_and_its_retry_builds(sample_root, tmp_path, monkeypatch):
    from conversion.hub_copy import parquet_pages

    root = _one_generator_tree(sample_root, tmp_path)
    out = tmp_path / "out"
    job = jobs.Job("sdv14", 3, "train")

    def disk_full(path):
        raise OSError(28, "No space left on device", str(path))

    with monkeypatch.context() as patched:
        patched.setattr(parquet_pages, "add_checksums", disk_full)
        with pytest.raises(OSError, match="No space left"):
            jobs.run_job(job, root, out)
    assert not (out / jobs.STAGING).exists()
    assert not jobs.is_built(out, job)
    assert [p.name for p in jobs.run_job(job, root, out)] == ["train-00000-of-00001.parquet"]
    assert not (out / jobs.STAGING).exists()


def test_the_build_warning_names_the_report_where_the_job_leaves_it(sample_root, tmp_path, caplog):
    root = _one_generator_tree(sample_root, tmp_path)
    broken = next(root.rglob(f"train/ai/{tables.task_classes()[3][0]:03d}_sdv4_*.png"))
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not a png" * 10)
    out = tmp_path / "out"
    job = jobs.Job("sdv14", 3, "train")
    with caplog.at_level("WARNING", logger=build_report.__name__):
        jobs.run_job(job, root, out)
    final = jobs.report_folder(out, job) / build_report.REPORT_FILE
    [warning] = [r.getMessage() for r in caplog.records if r.name == build_report.__name__]
    assert " 1 skipped " in warning and warning.endswith(f"; report: {final}")
    assert final.is_file()
    assert build_report.load(final)["skipped"][0]["path"].endswith(broken.name)
