"""--no-progress (conversion.progress.configure) hides every bar: ours, datasets' and huggingface_hub's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BARS = """
import sys
from conversion import progress
progress.configure(sys.argv[1] == "shown")
from datasets.utils.tqdm import tqdm as datasets_tqdm
from huggingface_hub.utils import are_progress_bars_disabled, tqdm as hub_tqdm
for _ in hub_tqdm(range(3), desc="hub bar"):  # as huggingface_hub's upload shows its files
    pass
for _ in datasets_tqdm(range(3), desc="datasets bar"):
    pass
print(are_progress_bars_disabled())
"""


@pytest.mark.parametrize("mode", ["shown", "hidden"])
def test_no_progress_hides_huggingface_hub_bars_too(mode):
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_DISABLE_PROGRESS_BARS", "HF_DATASETS_DISABLE_PROGRESS_BARS")}
    done = subprocess.run([sys.executable, "-c", BARS, mode], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(mode == "hidden")
    for name in ("hub bar", "datasets bar"):
        assert (f"{name}: 100%" in done.stderr) == (mode == "shown"), done.stderr
