"""Build jobs per (generator, task, split) into one Parquet layout, assembled and checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from conversion import build_report, cli, jobs, tables

ROOT = Path(__file__).resolve().parents[1]


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
    assert not any((assembled / jobs.STAGING).iterdir())
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
    from conversion.raw_tree import Item

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
