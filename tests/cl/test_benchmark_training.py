"""Benchmark group h at a tiny size: every loader runs one epoch of float32 batches and its ratio to the paper's
TensorDataset is printed (no timing is asserted: the machine is shared)."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("avalanche", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")
pytest.importorskip("continuum", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")


def test_training_group_runs_every_loader_beside_tensordataset(tmp_path, capsys):
    from benchmarks import cases, run

    run.main(["h", "--task-rows", "600", "--workdir", str(tmp_path)])
    printed = capsys.readouterr().out
    rows = json.loads((tmp_path / "results.json").read_text())
    assert {row["group"] for row in rows} == {"h"} and len(rows) == 9
    one_time = [row for row in rows if "once" in row["label"]]
    side = next(row for row in rows if row["label"] == run.SIDE_BY_SIDE)
    assert len(one_time) == 2 and all(row["items"] == 600 for row in one_time)
    assert all(row["items"] == 600 * cases.H_EPOCHS for row in rows if row not in one_time and row is not side)
    assert side["items"] == 600 * 4 * cases.SIDE_BY_SIDE_ROUNDS
    assert {name: len(rates) for name, rates in side["side_by_side"].items()} == dict.fromkeys(
        ("TensorDataset", "Pairs", "Avalanche", "Continuum"), cases.SIDE_BY_SIDE_ROUNDS)
    for name in ("Pairs", "Avalanche", "Continuum"):
        assert re.search(rf"\| \(h\) {name} vs TensorDataset, side by side: median images/s \| [\d.]+ \| - "
                         rf"\| >= 1.0x \| (yes|NO) \|", printed), name
        assert re.search(rf"\| {name} \| [\d,]+(, [\d,]+){{{cases.SIDE_BY_SIDE_ROUNDS - 1}}} \| [\d,]+ \| [\d.]+x \|",
                         printed), name
