"""Run one benchmark case in a fresh interpreter and report its time and peak memory.

Each case runs in its own process so that peak memory is its own: the peak RSS of the process
(``VmHWM``) and of its largest finished child (``ru_maxrss`` of RUSAGE_CHILDREN: worker processes),
plus the sampled peak of the whole
process tree's private memory (``Pss_Anon + Pss_Shmem`` from ``/proc/<pid>/smaps_rollup``, every
0.1 s). Private memory leaves out memory-mapped files, which the page cache can drop at any time,
so it is what "memory flat as the dataset grows" is about. Imports happen before the clock starts.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARK = "BENCHMARK-RESULT "
SAMPLE_SECONDS = 0.1


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(child) for child in f.read().split())
        except OSError:
            continue
    return found


def _private_kb(pid: int) -> int:
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(("Pss_Anon:", "Pss_Shmem:")):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total


class TreeMemorySampler(threading.Thread):
    """Peak private memory (MB) of this process and all its descendants, sampled."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak_kb = 0
        self._done = threading.Event()

    def run(self) -> None:
        pid = os.getpid()
        while not self._done.is_set():
            self.peak_kb = max(self.peak_kb, sum(_private_kb(p) for p in _descendants(pid)))
            self._done.wait(SAMPLE_SECONDS)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak_kb / 1024


def _peak_rss_kb() -> int:
    """This process's own peak RSS (VmHWM). ``ru_maxrss`` of RUSAGE_SELF would not do: Linux carries
    it over ``exec``, so a case started from a big parent would report the parent's size."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def run_case(case: str, extra_env: dict | None = None, **params) -> dict:
    """Run ``benchmarks.cases.<case>(**params)`` in a subprocess (with ``extra_env`` added to its
    environment, e.g. ``OMP_NUM_THREADS``); returns its result with timings."""
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "PYTHONPATH": str(ROOT), **(extra_env or {})}
    load_before = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, "-m", "benchmarks.measure", case, json.dumps(params)],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARK)]
    if proc.returncode or not lines:
        raise RuntimeError(f"benchmark case {case} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return {**json.loads(lines[-1][len(MARK):]), "load_before": load_before}


def _child(case: str, params: str) -> None:
    from benchmarks import cases

    function = cases.CASES[case]
    kwargs = json.loads(params)
    sampler = TreeMemorySampler()
    sampler.start()
    cpu_start = os.times()
    start = time.perf_counter()
    result = function(**kwargs)
    seconds = time.perf_counter() - start
    cpu_end = os.times()
    private_mb = sampler.stop()
    cpu = sum(cpu_end[:4]) - sum(cpu_start[:4])
    result.update(
        seconds=seconds,
        cpu_seconds=cpu,
        rss_self_mb=_peak_rss_kb() / 1024,
        rss_child_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        private_mb=private_mb,
    )
    print(MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
