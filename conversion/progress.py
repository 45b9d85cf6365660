"""One switch for every progress bar of a command: ours (tqdm) and datasets' own."""

from __future__ import annotations


def configure(enabled: bool) -> None:
    """Show (or hide) datasets' progress bars for this process: its build, cast and Parquet bars."""
    import datasets

    if enabled:
        datasets.enable_progress_bars()
    else:
        datasets.disable_progress_bars()
