"""Benchmark group h at a tiny size: every loader runs one epoch of float32 batches and its ratio to the paper's
TensorDataset is printed (no timing is asserted: the machine is shared)."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("avalanche", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")
pytest.importorskip("continuum", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")


def test_training_group_runs_every_loader_beside_tensordataset(tmp_path, capsys):
    from benchmarks import run

    run.main(["h", "--task-rows", "600", "--workdir", str(tmp_path)])
    printed = capsys.readouterr().out
    rows = json.loads((tmp_path / "results.json").read_text())
    assert {row["group"] for row in rows} == {"h"} and len(rows) == 6
    assert all(row["items"] == 600 for row in rows)
    for name in ("Pairs, normalized float32", "avalanche_benchmark", "continuum_scenario"):
        assert re.search(rf"\| \(h\) {re.escape(name)}[^|]* vs TensorDataset \| [\d.]+ \| - \| >= 1.0x \| (yes|NO) \|",
                         printed), name
