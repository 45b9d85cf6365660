"""torch in forked workers: single-threaded, as torch's own DataLoader workers run.

datasets' ``num_proc`` forks worker processes. A parent that has already run a parallel torch op
(a release conversion, a corruption, a training step in the same notebook) holds an OpenMP thread
pool that does not survive fork: the worker's first parallel op would wait for it forever. Importing
this module makes every forked child run torch on one thread, which needs no pool.
"""

from __future__ import annotations

import os

import torch


def _single_threaded_child() -> None:
    torch.set_num_threads(1)


os.register_at_fork(after_in_child=_single_threaded_child)
