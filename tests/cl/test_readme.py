"""The README's "Continual learning" examples, run as written on the demo's sample tree.

The section's Python blocks run in order in one interpreter (later blocks use ``ds`` and imports of
earlier ones), from a folder holding the demo's ``genimage-cl-demo/GenImage`` and a Hub copy
``genimage-cl`` of it; each block's output must equal the ``text`` block that follows it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torchvision", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")
pytest.importorskip("avalanche", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")
pytest.importorskip("continuum", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")
pytest.importorskip("timm", reason="the CL environment (requirements-cl.txt, .ci/cl.sh) runs these")

README = Path(__file__).resolve().parents[2] / "README.md"
SEPARATOR = "=== next README block ==="
BLOCK = re.compile(r"```(python|text)\n(.*?)```", re.DOTALL)


def section_blocks() -> list[tuple[str, str | None]]:
    """(code, expected output or None) for each Python block of the section, in order."""
    text = README.read_text()
    section = text[text.index("## Continual learning\n"):]
    section = section[: section.index("\n## ", 1)]
    blocks, found = [], BLOCK.findall(section)
    for (kind, body), following in zip(found, found[1:] + [("", "")]):
        if kind == "python":
            blocks.append((body, following[1] if following[0] == "text" else None))
    return blocks


def test_the_section_has_an_example_per_library():
    code = "\n".join(body for body, _ in section_blocks())
    for name in ("avalanche_benchmark", "continuum_scenario", "create_dataset", "v2.", "sources="):
        assert name in code
    assert sum(expected is not None for _, expected in section_blocks()) == 6


def test_examples_print_what_the_readme_shows(sample_root, hub_copy, tmp_path):
    (tmp_path / "genimage-cl-demo").mkdir()
    (tmp_path / "genimage-cl-demo" / "GenImage").symlink_to(sample_root)
    (tmp_path / "genimage-cl").symlink_to(hub_copy)
    blocks = section_blocks()
    script = "\n".join(
        [f"exec(compile({code!r}, 'README block {i}', 'exec'))\nprint({SEPARATOR!r}, flush=True)"
         for i, (code, _) in enumerate(blocks)])
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    outputs = run.stdout.split(SEPARATOR + "\n")[: len(blocks)]
    for i, ((_, expected), printed) in enumerate(zip(blocks, outputs)):
        if expected is not None:
            assert printed == expected, f"README block {i} printed:\n{printed}"
