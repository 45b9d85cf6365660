"""torch on one thread for per-row work: in forked workers always, in the main process while it runs.

datasets' ``num_proc`` forks worker processes. A parent that has already run a parallel torch op
(a release conversion, a corruption, a training step in the same notebook) holds an OpenMP thread
pool that does not survive fork: the worker's first parallel op would wait for it forever. Importing
this module makes every forked child run torch on one thread, which needs no pool.

In the main process, :func:`single_threaded` runs a block on one torch thread and restores the
count after. Per-row work on release tensors (a batch of 256 64-px rows, one image at a time for a
corruption) is too small to gain from threads: torch's threads wait for each other and spin, most
of all on a machine whose cores are busy; a publish from the release took 1.37x the CPU time of one
with ``OMP_NUM_THREADS=1`` (benchmarks/README.md, group g).
"""

from __future__ import annotations

import contextlib
import os

import torch


def _single_threaded_child() -> None:
    torch.set_num_threads(1)


os.register_at_fork(after_in_child=_single_threaded_child)


@contextlib.contextmanager
def single_threaded():
    """Run the block with ``torch.set_num_threads(1)``; the thread count before it is restored after.

    Keep ``yield`` of a generator outside the block: a generator suspended inside it would leave the
    caller's own torch work between rows on one thread too.
    """
    before = torch.get_num_threads()
    if before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
