"""Another process holding a folder's lock, as a concurrent publish or export would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

_HOLD = ("import sys, time; from conversion import folder_lock\n"
         "with folder_lock.exclusive(sys.argv[1], sys.argv[2]):\n"
         "    print('held', flush=True); time.sleep(float(sys.argv[3]))")


def hold_lock(folder: Path, seconds: float, name: str = "publish") -> subprocess.Popen:
    """A process holding ``folder``'s lock ``name`` for ``seconds``, returned once it holds it."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(folder), name, str(seconds)], env=env,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder
