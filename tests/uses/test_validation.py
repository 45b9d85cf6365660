"""The validation split carved from train: class-stratified, disjoint from train, the same rows for one seed."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from conversion.samples.genimage_tree import make_sample_tree
from conversion.uses import streams, validation


@pytest.fixture(scope="module")
def ds(tmp_path_factory, build):
    """sdv14 with 5 images per class, split and source."""
    return build("sdv14", make_sample_tree(tmp_path_factory.mktemp("val") / "GenImage", generators=["sdv14"],
                                           images_per_class=5))


def _col(view, name: str) -> list:
    return list(view[name])


def _groups(view):
    return Counter(zip(_col(view, "source"), _col(view, "label")))


def test_validation_is_stratified_and_disjoint_from_train(ds):
    whole = streams.tasks(ds)
    cut = streams.tasks(ds, validation=0.3, validation_seed=7)
    for task, full in zip(cut, whole):
        train, held = _col(task.train, "file_name"), _col(task.validation, "file_name")
        assert not set(train) & set(held)
        assert sorted(train + held) == sorted(_col(full.train, "file_name"))
        assert _col(task.test, "file_name") == _col(full.test, "file_name")
        groups = _groups(full.train)
        assert _groups(task.validation) == {key: math.floor(0.3 * n + 0.5) for key, n in groups.items()}
        assert set(_groups(task.train)) == set(groups)  # every class keeps training rows


def test_the_rows_follow_numpys_generator_with_the_seed(ds):
    """The documented rule, re-done here: per (source, label) group in row order, permuted by
    np.random.default_rng([seed, task, source, label]), the first round(f * n) held out."""
    task = streams.tasks(ds, validation=0.4, validation_seed=3)[2]
    full = streams.tasks(ds)[2].train
    source, label = np.array(_col(full, "source")), np.array(_col(full, "label"))
    expected = []
    for s, lab in sorted(set(zip(source.tolist(), label.tolist()))):
        rows = np.flatnonzero((source == s) & (label == lab))
        expected += rows[np.random.default_rng([3, 2, s, lab]).permutation(len(rows))[:2]].tolist()
    assert _col(task.validation, "file_name") == [_col(full, "file_name")[i] for i in sorted(expected)]
    again = streams.tasks(ds, validation=0.4, validation_seed=3)[2]
    assert _col(again.validation, "file_name") == _col(task.validation, "file_name")
    other = streams.tasks(ds, validation=0.4, validation_seed=4)[2]
    assert _col(other.validation, "file_name") != _col(task.validation, "file_name")


def test_classes_of_one_image_stay_in_train(sample_root, build):
    one = build("sdv14", sample_root)  # one image per class and source: nothing can be held out
    task = streams.tasks(one, validation=0.5)[0]
    assert len(task.validation) == 0 and len(task.train) == len(streams.tasks(one)[0].train)
    assert validation.group_size(0.5, 1) == 0 and validation.group_size(0.5, 2) == 1
    assert validation.group_size(0.9, 5) == 4


@pytest.mark.parametrize("options, message", [
    ({"validation": 1.0}, "validation must be a fraction in \\[0, 1\\), got 1.0"),
    ({"validation": -0.1}, "validation must be a fraction"),
    ({"validation": 0.1, "validation_seed": -1}, "validation_seed must be an int >= 0, got -1"),
    ({"validation": 0.1, "splits": ("test",)}, "validation is carved from train"),
])
def test_bad_options_fail_naming_them(ds, options, message):
    with pytest.raises(ValueError, match=message):
        streams.tasks(ds, **options)
