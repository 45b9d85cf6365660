"""One switch for every progress bar of a command: ours (tqdm) and datasets' own."""

from __future__ import annotations

import contextlib


def configure(enabled: bool) -> None:
    """Show (or hide) datasets' progress bars for this process: its build, cast and Parquet bars."""
    import datasets

    if enabled:
        datasets.enable_progress_bars()
    else:
        datasets.disable_progress_bars()


@contextlib.contextmanager
def hidden():
    """datasets' progress bars off for a step that has no bar worth showing (e.g. a Parquet write)."""
    from datasets.utils import tqdm as hf_tqdm

    was_disabled = hf_tqdm.are_progress_bars_disabled()
    hf_tqdm.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            hf_tqdm.enable_progress_bars()
