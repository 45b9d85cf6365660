"""Per-row work on release tensors runs torch on one thread in the main process, and gives the count back."""

from __future__ import annotations

import pytest
import torch

from conversion import torch_workers
from conversion.builder import corrupted_rows
from conversion.pixels import corruption_recipe
from conversion.sources import kinds, release


@pytest.fixture
def two_threads():
    """torch on two threads for the test (what a default process has on a 2-core machine), restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(before)


def test_single_threaded_sets_one_thread_and_restores_the_count(two_threads):
    with torch_workers.single_threaded():
        assert torch.get_num_threads() == 1
        with torch_workers.single_threaded():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == two_threads
    with pytest.raises(ZeroDivisionError):
        with torch_workers.single_threaded():
            raise ZeroDivisionError
    assert torch.get_num_threads() == two_threads


def _recording(function, seen: list):
    def recorded(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return function(*args, **kwargs)

    return recorded


def test_release_rows_are_checked_on_one_thread_and_the_caller_keeps_its_threads(sample_release, two_threads,
                                                                                   monkeypatch):
    """Inside the generator the rows' torch work runs on one thread; between rows (the caller's time) and
    after the last one, torch has the caller's thread count."""
    inside = []
    monkeypatch.setattr(release, "exact_uint8", _recording(release.exact_uint8, inside))
    source = kinds.open_source(sample_release, ["sdv14"])
    items = source.split_plan("train", [("sdv14", 0), ("sdv14", 1)]).items
    between = [torch.get_num_threads() for _row in source.examples(items, "train", 64)]
    assert len(between) == len(items) and set(between) == {two_threads}
    assert inside and set(inside) == {1}
    assert torch.get_num_threads() == two_threads


def test_recipe_corruption_runs_on_one_thread(sample_root, two_threads, monkeypatch):
    """A corrupted copy made with the recipe (clean rows, normalized, corrupted) runs on one thread."""
    pytest.importorskip("skimage")
    inside = []
    monkeypatch.setattr(corruption_recipe, "corrupt", _recording(corruption_recipe.corrupt, inside))
    source = kinds.open_source(sample_root, ["sdv14"])
    items = source.split_plan("test", [("sdv14", 0)]).items
    cell = corrupted_rows.cells(items)[0]
    between = [torch.get_num_threads() for _row in corrupted_rows.examples(source, cell, "gaussian_blur")]
    assert inside == [1]
    assert set(between) <= {two_threads}
    assert torch.get_num_threads() == two_threads
