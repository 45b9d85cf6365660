"""The command line: help says what each command does with an example; errors are one line."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from conversion import cli

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "conversion", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=300)


def test_main_help_lists_every_command_with_an_example():
    result = _run("--help")
    assert result.returncode == 0
    for module_name in cli.COMMANDS:
        assert importlib.import_module(module_name).NAME in result.stdout
    assert "Example: python -m conversion " in result.stdout


@pytest.mark.parametrize("module_name", cli.COMMANDS)
def test_each_command_help_says_what_it_does_with_an_example(module_name, capsys):
    module = importlib.import_module(module_name)
    with pytest.raises(SystemExit) as exit_:
        cli.main([module.NAME, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert module.__doc__.strip().splitlines()[0] in text
    assert "Example" in text and f"python -m conversion {module.NAME}" in text
    main_help = " ".join(cli.build_parser().format_help().split())
    assert " ".join(module.HELP.split()[:4]) in main_help


def test_an_error_is_one_line_and_debug_shows_the_traceback(tmp_path):
    missing = tmp_path / "no-such-tree"
    args = ("export-imagefolder", "--data-dir", str(missing), "--config", "sdv14", "--out", str(tmp_path / "out"))
    result = _run(*args)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(missing) in lines[0]
    debug = _run("--debug", *args)
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr and str(missing) in debug.stderr


def test_bad_arguments_are_reported_by_argparse(tmp_path):
    result = _run("export-imagefolder", "--data-dir", str(tmp_path), "--config", "no-such-config", "--out", "x")
    assert result.returncode == 2
    assert "invalid choice: 'no-such-config'" in result.stderr
