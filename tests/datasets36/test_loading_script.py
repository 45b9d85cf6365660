"""genimage_cl.py as a datasets 3.6 loading script (run by .ci/datasets36.sh in its own environment).

datasets 3.x copies the script into its modules cache and imports it from there, so these tests run
``load_dataset`` and ``datasets-cli test`` in subprocesses, from the repository root and from
another folder, each with a fresh modules cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

datasets = pytest.importorskip("datasets")
if int(datasets.__version__.split(".")[0]) != 3:
    pytest.skip(f"loading scripts need datasets 3.x, this is {datasets.__version__}", allow_module_level=True)

from datasets.utils.py_utils import get_imports  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "genimage_cl.py"
CARD_WARNING = "Repo card metadata block was not found"
"""huggingface_hub's warning for a README.md without YAML, where datasets 3.6 looks for the builder's infos."""

LOAD = """
import json, sys, datasets
ds = datasets.load_dataset(sys.argv[1], sys.argv[2], data_dir=sys.argv[3], trust_remote_code=True)
print(json.dumps({split: {"rows": d.num_rows, "file_name": d["file_name"], "label": d["label"],
                          "task": d["task"], "size": list(d[0]["image"].size)} for split, d in ds.items()}))
"""


def _env(tmp_path: Path) -> dict:
    env = dict(os.environ)
    env.update(
        HF_HOME=str(tmp_path / "hf"),
        HF_MODULES_CACHE=str(tmp_path / "modules"),
        HF_DATASETS_CACHE=str(tmp_path / "datasets"),
        HF_DATASETS_OFFLINE="1",
        HF_HUB_OFFLINE="1",
    )
    return env


def _run(args: list[str], cwd: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _copied_scripts(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "modules").rglob("genimage_cl.py"))


@pytest.fixture(scope="module")
def expected(sample_root):
    """The sdv14 rows as the builder class gives them when imported directly."""
    from genimage_cl import GenImageCL

    with tempfile.TemporaryDirectory() as cache:
        builder = GenImageCL(config_name="sdv14", data_dir=str(sample_root), cache_dir=cache)
        builder.download_and_prepare()
        return {
            split: {"rows": d.num_rows, "file_name": d["file_name"], "label": d["label"], "task": d["task"],
                    "size": [64, 64]}
            for split, d in builder.as_dataset().items()
        }


@pytest.mark.parametrize("where", ["repo root", "elsewhere"])
def test_load_dataset_runs_the_script_from_the_modules_cache(where, sample_root, expected, tmp_path):
    cwd, script = (REPO, "./genimage_cl.py") if where == "repo root" else (tmp_path, str(SCRIPT))
    result = _run([sys.executable, "-c", LOAD, script, "sdv14", str(sample_root)], cwd, tmp_path)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == expected
    assert CARD_WARNING not in result.stderr
    assert loaded["train"]["rows"] > 0 and loaded["test"]["rows"] > 0
    assert sorted(set(loaded["train"]["task"])) == list(range(6))
    assert _copied_scripts(tmp_path), "datasets did not load genimage_cl.py as a script"


@pytest.mark.parametrize("where", ["repo root", "elsewhere"])
def test_datasets_cli_test_all_configs(where, sample_root, tmp_path):
    cwd, script = (REPO, "genimage_cl.py") if where == "repo root" else (tmp_path, str(SCRIPT))
    result = _run(
        ["datasets-cli", "test", script, "--data_dir", str(sample_root), "--all_configs", "--trust_remote_code",
         "--cache_dir", str(tmp_path / "cli_cache")],
        cwd,
        tmp_path,
    )
    log = result.stdout + result.stderr
    assert "Test successful" in log
    assert "Testing builder 'disjoint' (57/58)" in log and "Testing builder 'disjoint-reversed' (58/58)" in log
    assert CARD_WARNING not in log


def test_script_error_without_data_dir_is_clear(tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", LOAD, str(SCRIPT), "sdv14", str(tmp_path / "missing")],
        cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=600,
    )
    assert run.returncode != 0
    assert "is not a directory" in run.stderr.strip().splitlines()[-1]


def test_install_hint_names_this_project_not_pypi_conversion():
    """datasets 3.x tells users to ``pip install <hint>`` for a missing library import."""
    hints = {name: hint for kind, name, hint, _ in get_imports(str(SCRIPT)) if kind == "library"}
    assert hints["conversion"].startswith("-e "), hints
    local = [name for kind, name, *_ in get_imports(str(SCRIPT)) if kind != "library"]
    assert local == [], "relative imports would be copied file by file; the script imports the installed package"
