"""One switch for every progress bar of a command: ours (tqdm) and datasets' own."""

from __future__ import annotations

import contextlib


def configure(enabled: bool) -> None:
    """Hide datasets' progress bars for this process (its build, cast and Parquet bars) unless
    ``enabled``; when enabled, datasets' own setting (HF_DATASETS_DISABLE_PROGRESS_BARS) stands."""
    if not enabled:
        import datasets

        datasets.disable_progress_bars()


@contextlib.contextmanager
def hidden():
    """datasets' progress bars off for a step that has no bar worth showing (e.g. a Parquet write)."""
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()
