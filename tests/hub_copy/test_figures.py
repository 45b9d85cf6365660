"""Card figures: sample grids put each class's natural image next to its AI image; balance charts count."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conversion.contract import tables
from conversion.hub_copy import figure_drawing
from tests.helpers import leftover_temporaries, render_figures


@pytest.fixture(scope="module")
def figures(sample_root, build, tmp_path_factory):
    ds = build("sdv14", sample_root)
    return ds, render_figures(ds, tmp_path_factory.mktemp("figures"))


def test_one_grid_per_generator_and_one_chart_per_task(figures):
    _, rendered = figures
    assert list(rendered["samples"]) == ["sdv14"]
    assert sorted(rendered["balance"]) == [("sdv14", t) for t in range(6)]
    for path in [*rendered["samples"].values(), *rendered["balance"].values()]:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.mode == "RGB"


def test_grid_cells_hold_the_chosen_images_nature_left_of_ai(figures):
    ds, rendered = figures
    train = ds["train"]
    chosen = figure_drawing.choose_pairs(train, train.features["generator"].str2int("sdv14"), 8)
    assert len(chosen) == 8
    geometry = figure_drawing.GridGeometry(len(chosen))
    with Image.open(rendered["samples"]["sdv14"]) as grid:
        assert grid.size == geometry.size
        for i, (label, nature_row, ai_row) in enumerate(chosen):
            for source, row in (("nature", nature_row), ("ai", ai_row)):
                record = train[row]
                assert (record["label"], tables.SOURCES[record["source"]]) == (label, source)
                expected = record["image"].convert("RGB").resize((figure_drawing.CELL,) * 2, Image.NEAREST)
                assert np.array_equal(np.asarray(grid.crop(geometry.box(i, source))), np.asarray(expected))


def test_balance_counts_and_bars(figures):
    ds, rendered = figures
    train = ds["train"]
    counts = figure_drawing.class_counts(train, 3, train.features["generator"].str2int("sdv14"))
    expected = np.zeros((2, 100), dtype=np.int64)
    for row in train.select_columns(["task", "source", "task_label"]):
        if row["task"] == 3:
            expected[row["source"], row["task_label"]] += 1
    assert np.array_equal(counts, expected) and counts.sum() > 0
    geometry = figure_drawing.ChartGeometry()
    largest = int(counts.max())
    with Image.open(rendered["balance"]["sdv14", 3]) as chart:
        pixels = np.asarray(chart)
        for source_id, source in enumerate(tables.SOURCES):
            colour = figure_drawing.SOURCE_COLOURS[source]
            for task_label in range(100):
                left, top, right, bottom = geometry.bar(task_label, source, max(counts[source_id, task_label], 1),
                                                         largest)
                cell = pixels[bottom - 2, left]
                assert (tuple(cell) == colour) == bool(counts[source_id, task_label]), (source, task_label)


def test_disjoint_has_a_grid_per_generator_and_renders_deterministically(sample_root, build, tmp_path):
    ds = build("disjoint", sample_root)
    first = render_figures(ds, tmp_path / "a", split="test")
    second = render_figures(ds, tmp_path / "b", split="test")
    assert sorted(first["samples"]) == sorted(tables.task_order())
    assert sorted(first["balance"]) == sorted((g, t) for t, g in enumerate(tables.task_order()))
    for key, path in first["samples"].items():
        assert path.read_bytes() == second["samples"][key].read_bytes()
    assert not leftover_temporaries(tmp_path)


def test_a_class_hundreds_of_times_smaller_still_gets_a_visible_bar(tmp_path):
    """1 image beside 1000 (a bar of 110/1000 px used to round to nothing and stop the card)."""
    counts = np.zeros((2, 100), dtype=np.int64)
    counts[0, 0], counts[1, 0], counts[0, 1], counts[1, 99] = 1000, 1, 4, 3
    path = figure_drawing.balance_chart(counts, "extreme", tmp_path / "balance.png")
    geometry = figure_drawing.ChartGeometry()
    with Image.open(path) as chart:
        pixels = np.asarray(chart)
    for source_id, source in enumerate(tables.SOURCES):
        for task_label in range(100):
            count = int(counts[source_id, task_label])
            left, top, right, bottom = geometry.bar(task_label, source, count, 1000)
            assert (bottom - top >= 1) == bool(count)
            if count:
                assert tuple(pixels[bottom - 1, left]) == figure_drawing.SOURCE_COLOURS[source], (source, task_label)
