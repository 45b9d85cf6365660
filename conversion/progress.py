"""One switch for every progress bar of a command: ours (tqdm), datasets' and huggingface_hub's own."""

from __future__ import annotations

import contextlib


def configure(enabled: bool) -> None:
    """Hide datasets' progress bars (its build, cast and Parquet bars) and huggingface_hub's (an
    upload's file bars) for this process unless ``enabled``; when enabled, their own settings
    (HF_DATASETS_DISABLE_PROGRESS_BARS, HF_HUB_DISABLE_PROGRESS_BARS) stand."""
    if not enabled:
        import datasets
        from huggingface_hub.utils import disable_progress_bars

        datasets.disable_progress_bars()
        disable_progress_bars()


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
